"""Image size and aspect ratio of the source image.

Defaults follow DataComp's basic filter (shorter side > 200 px, aspect ratio < 3); CC3M was stricter
(both sides > 400 px, aspect <= 2): set ``min_side: 401, max_aspect: 2`` for that.
"""

from __future__ import annotations

from pydantic import Field

from lgs_crawl.filters import Drop, Filter, FilterParams


class ImageSize(Filter):
    name = "image_size"
    stage = "image"

    class Params(FilterParams):
        min_side: int = Field(201, ge=1, description="shorter side at least this (DataComp: > 200)")
        max_side: int = Field(100_000, ge=1)
        max_aspect: float = Field(3.0, ge=1, description="longer / shorter side at most this (DataComp: < 3)")

    def check(self, record):  # type: ignore[override]
        p = self.params
        w, h = record.original_width, record.original_height
        short, long = min(w, h), max(w, h)
        if short < p.min_side:
            return Drop("too_small", f"{w}x{h}")
        if long > p.max_side:
            return Drop("too_large_dims", f"{w}x{h}")
        if long / short > p.max_aspect:
            return Drop("bad_aspect", f"{w}x{h}")
        return None
