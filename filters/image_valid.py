"""Image validity: the worker decoded the image fully (EXIF rotation applied, modes converted, bomb
limit enforced); drop what failed there, or came in a format not allowed."""

from __future__ import annotations

from pydantic import Field

from lgs_crawl.filters import Drop, Filter, FilterParams


class ImageValid(Filter):
    name = "image_valid"
    stage = "image"

    class Params(FilterParams):
        formats: list[str] = Field(default_factory=lambda: ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"],
                                   description="Pillow format names accepted")

    def check(self, record):  # type: ignore[override]
        if record.image_error:
            return Drop(record.image_error, record.image_error_detail)
        if record.image_format not in self.params.formats:
            return Drop("format_not_allowed", record.image_format)
        return None
