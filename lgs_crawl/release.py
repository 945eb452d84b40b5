"""Release and regenerate: `lgs-crawl export-urls` writes the shareable list (no image bytes);
`lgs-crawl download --url-list release.parquet` rebuilds the dataset from it."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lgs_crawl.dataset import read_metadata

RELEASE_SCHEMA = pa.schema([
    ("image_url", pa.string()), ("page_url", pa.string()), ("caption", pa.string()), ("title", pa.string()),
    ("description", pa.string()), ("brand", pa.string()), ("breadcrumbs", pa.list_(pa.string())),
    ("price", pa.float64()), ("currency", pa.string()), ("sku", pa.string()), ("gtin", pa.string()),
    ("site", pa.string()), ("license", pa.string()), ("source_key", pa.string()), ("source_sha256", pa.string()),
    ("source_phash", pa.string()), ("source_dhash", pa.string()), ("source_width", pa.int32()),
    ("source_height", pa.int32()),
])
LICENSE = "unknown: images and text belong to the site and seller; see the site's terms"


def export_urls(outs: list[Path], to: Path) -> int:
    rows = []
    for out in outs:
        for m in read_metadata(out).to_pylist():
            rows.append({
                "image_url": m["image_url"], "page_url": m["page_url"], "caption": m["caption"],
                "title": m["title"], "description": m["description"], "brand": m["brand"],
                "breadcrumbs": m["breadcrumbs"], "price": m["price"], "currency": m["currency"], "sku": m["sku"],
                "gtin": m["gtin"], "site": m["site"], "license": LICENSE, "source_key": m["key"],
                "source_sha256": m["sha256"], "source_phash": m["phash"], "source_dhash": m["dhash"],
                "source_width": m["original_width"], "source_height": m["original_height"],
            })
    to.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=RELEASE_SCHEMA), to, compression="zstd")
    return len(rows)
