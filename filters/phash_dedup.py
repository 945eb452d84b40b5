"""Near-duplicate and exact-duplicate removal against everything already kept in this output.

Exact duplicates by sha256 of the source bytes; near duplicates by 64-bit phash (imagehash) within
``radius``, each candidate confirmed by dhash within ``confirm_radius`` and by the chroma signature (the
colour of the picture's middle) within ``chroma_tolerance``. phash alone calls ~6e-5 of pairs of distinct synthetic product photos
duplicates at radius 8, phash + dhash 2.7e-6; with the chroma check too, none of 3.2e9 pairs
(scripts/bench/dedup_quality.py). The
index spans runs: it is reloaded from run state.
"""

from __future__ import annotations

from array import array

from pydantic import Field

from lgs_crawl.dedup_index import NO_MATCH, ExactIndex, HammingIndex
from lgs_crawl.filters import Drop, Filter, FilterParams


def _int(hex_value: str) -> int:
    return int(hex_value or "0", 16)


def _key(key: str) -> int:
    return int(key) if key.isdigit() else -1


class PhashDedup(Filter):
    name = "phash_dedup"
    stage = "image"

    class Params(FilterParams):
        radius: int = Field(8, ge=0, le=16, description="phash Hamming radius")
        confirm_radius: int | None = Field(10, ge=0, le=32, description="dhash radius; null: no dhash check")
        chroma_tolerance: int | None = Field(3, ge=0, le=255, description="largest central-cell Cr/Cb difference "
                                             "(8-bit levels); null: no colour check")
        exact: bool = Field(True, description="drop byte-identical sources (sha256)")

    def __init__(self, params: FilterParams | None = None) -> None:
        super().__init__(params)
        p = self.params
        self.index = HammingIndex(p.radius, p.confirm_radius, p.chroma_tolerance)
        self._keys = array("q")  # sample key per index id, to name the kept original
        self._exact = ExactIndex()  # sha256 prefixes, ids in step with _exact_keys
        self._exact_keys = array("q")

    def check(self, record):  # type: ignore[override]
        if self.params.exact and record.sha256:
            first = self._exact.find(ExactIndex.prefix(record.sha256))
            if first != NO_MATCH:
                return Drop("exact_duplicate", f"of {self._exact_keys[first]:012d}")
        if not record.phash:
            return None
        hit = self.index.query(_int(record.phash), _int(record.dhash), _int(record.chroma))
        if hit is not None:
            return Drop("near_duplicate", f"of {self._keys[hit[0]]:012d} at distance {hit[1]}")
        return None

    def commit(self, record) -> None:  # type: ignore[override]
        if record.sha256:
            self._exact.add(ExactIndex.prefix(record.sha256))
            self._exact_keys.append(_key(record.key))
        if record.phash:
            self.index.add(_int(record.phash), _int(record.dhash), _int(record.chroma))
            self._keys.append(_key(record.key))
