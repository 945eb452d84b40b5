"""The one record type that flows source -> filter chain -> sharder."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Columns of metadata/*.parquet and members of KEY.json, in this order (the output contract).
METADATA_FIELDS = (
    "key", "shard", "image_url", "page_url", "site", "caption", "title", "description", "brand",
    "breadcrumbs", "price", "currency", "sku", "gtin", "language", "width", "height",
    "original_width", "original_height", "phash", "dhash", "chroma", "sha256", "crawled_at",
)


_now: tuple[int, str] = (0, "")


def utc_now() -> str:
    """ISO time to the second; formatted once per second, not once per record."""
    global _now
    second = int(time.time())
    if second != _now[0]:
        _now = (second, datetime.fromtimestamp(second, timezone.utc).isoformat(timespec="seconds"))
    return _now[1]


class Record(BaseModel):
    """One (product, image) pair: provenance, product fields, and image fields once fetched."""

    model_config = ConfigDict(validate_assignment=False, arbitrary_types_allowed=True)

    # provenance
    key: str = ""
    shard: int = -1
    site: str = ""
    page_url: str = ""
    image_url: str = ""
    crawled_at: str = Field(default_factory=utc_now)
    # product fields
    caption: str = ""
    title: str = ""
    description: str = ""
    brand: str = ""
    breadcrumbs: list[str] = Field(default_factory=list)
    price: float | None = None
    price_text: str = ""  # as found on the page; the price filter parses it into price/currency
    currency: str = ""
    sku: str = ""
    gtin: str = ""
    language: str = ""
    captions: dict[str, str] = Field(default_factory=dict)  # caption variants (LGS-style), into KEY.json
    extra: dict[str, Any] = Field(default_factory=dict)  # extra URL-list columns, carried through
    # fetch results (set by the fetcher before the header-stage filters)
    http_status: int = 0
    headers: dict[str, str] = Field(default_factory=dict)
    # image fields (set by the image worker before the image-stage filters)
    image_error: str = ""  # fixed reason from the decoder, "" when the image decoded
    image_error_detail: str = ""
    image_format: str = ""
    source_bytes: int = 0
    width: int = 0
    height: int = 0
    original_width: int = 0
    original_height: int = 0
    phash: str = ""
    dhash: str = ""
    chroma: str = ""  # mean Cr, Cb of the 4 central cells of a 4x4 grid (hex): the dedup's colour check
    sha256: str = ""
    image: bytes = b""  # encoded output image
    image_ext: str = ""

    def metadata(self) -> dict[str, Any]:
        """The row written to Parquet and KEY.json (contract columns, then extras)."""
        row = {name: getattr(self, name) for name in METADATA_FIELDS}
        row["captions"] = dict(self.captions)
        for name, value in self.extra.items():
            row.setdefault(name, value)  # KEY.json has them all; Parquet keeps the run's fixed set
        return row
