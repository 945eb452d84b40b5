"""Near-duplicate and exact-duplicate removal against everything already kept in this output.

Exact duplicates by sha256 of the source bytes; near duplicates by 64-bit phash (imagehash) within
``radius``, each candidate confirmed by dhash within ``confirm_radius`` (phash alone collides about once
in 1e5 pairs at radius 8 on product photos). The index spans runs: it is reloaded from run state.
"""

from __future__ import annotations

from pydantic import Field

from lgs_crawl.dedup_index import HammingIndex
from lgs_crawl.filters import Drop, Filter, FilterParams


class PhashDedup(Filter):
    name = "phash_dedup"
    stage = "image"

    class Params(FilterParams):
        radius: int = Field(8, ge=0, le=16, description="phash Hamming radius")
        confirm_radius: int | None = Field(10, ge=0, le=32, description="dhash radius; null: phash alone")
        exact: bool = Field(True, description="drop byte-identical sources (sha256)")

    def __init__(self, params: FilterParams | None = None) -> None:
        super().__init__(params)
        self.index = HammingIndex(self.params.radius, self.params.confirm_radius)
        self._sha: dict[str, str] = {}

    def check(self, record):  # type: ignore[override]
        if self.params.exact and record.sha256 in self._sha:
            return Drop("exact_duplicate", f"of {self._sha[record.sha256]}")
        if not record.phash:
            return None
        hit = self.index.query(int(record.phash, 16), int(record.dhash or "0", 16))
        if hit is not None:
            return Drop("near_duplicate", f"of {hit[0]:012d} at distance {hit[1]}")
        return None

    def commit(self, record) -> None:  # type: ignore[override]
        if record.sha256:
            self._sha.setdefault(record.sha256, record.key)
        if record.phash:
            key = int(record.key) if record.key.isdigit() else -1
            self.index.add(int(record.phash, 16), int(record.dhash or "0", 16), key)
