"""Regenerating from a released URL list: is the image still the one that was released?

Rows of a list written by ``lgs-crawl export-urls`` carry the source image's ``source_sha256`` and
``source_phash``. Byte-identical images pass; an image re-encoded by the site (sha256 differs, phash
within ``radius``) passes and is marked ``source_reencoded``; anything else is ``source_changed``.
Rows without these columns pass untouched. (A released image that no longer downloads is reported by
the fetch stage as ``source_missing``.)
"""

from __future__ import annotations

from pydantic import Field

from lgs_crawl.filters import Drop, Filter, FilterParams


class SourceCheck(Filter):
    name = "source_check"
    stage = "image"

    class Params(FilterParams):
        radius: int = Field(4, ge=0, le=32, description="phash distance still counted as the same image")

    def check(self, record):  # type: ignore[override]
        want_sha = record.extra.get("source_sha256")
        if not want_sha or record.sha256 == want_sha:
            return None
        want_phash = record.extra.get("source_phash")
        if want_phash and record.phash:
            distance = (int(want_phash, 16) ^ int(record.phash, 16)).bit_count()
            if distance <= self.params.radius:
                record.extra["source_reencoded"] = True
                return None
            return Drop("source_changed", f"phash distance {distance}")
        return Drop("source_changed", "sha256 differs")
