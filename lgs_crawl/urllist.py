"""Read URL lists (Parquet, CSV/TSV, JSON Lines, plain text) as a stream of shard-sized row batches.

Streaming keeps memory flat in the length of the list.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lgs_crawl.config import ConfigError

URL_COLUMNS = ("url", "image_url", "URL", "img_url")
CAPTION_COLUMNS = ("caption", "text", "TEXT", "title")


def detect_format(path: Path) -> str:
    name = path.name.lower()
    for suffix, fmt in ((".parquet", "parquet"), (".csv", "csv"), (".tsv", "tsv"), (".jsonl", "jsonl"),
                        (".ndjson", "jsonl"), (".json", "jsonl"), (".txt", "txt")):
        if name.endswith(suffix):
            return fmt
    return "txt"


def _columns(path: Path, fmt: str) -> list[str]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    if fmt in ("csv", "tsv"):
        with path.open(encoding="utf-8", errors="replace") as f:
            import csv

            return next(csv.reader(f, delimiter="\t" if fmt == "tsv" else ","), [])
    if fmt == "jsonl":
        with path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.strip():
                    try:
                        obj = json.loads(line)
                    except json.JSONDecodeError:
                        return []
                    return list(obj) if isinstance(obj, dict) else []
        return []
    return ["url"]


def resolve_columns(path: Path, url_col: str | None, caption_col: str | None
                    ) -> tuple[str, str | None, list[str]]:
    """(URL column, caption column or None, every column of the list)."""
    fmt = detect_format(path)
    cols = _columns(path, fmt)
    if fmt == "txt":
        return "url", None, cols
    if url_col is None:
        url_col = next((c for c in URL_COLUMNS if c in cols), None)
        if url_col is None:
            raise ConfigError([("--url-col", None, f"name the URL column; the list has: {', '.join(cols)}")])
    elif url_col not in cols:
        raise ConfigError([("--url-col", url_col, f"one of the list's columns: {', '.join(cols)}")])
    if caption_col is None:
        caption_col = next((c for c in CAPTION_COLUMNS if c in cols), None)
    elif caption_col not in cols:
        raise ConfigError([("--caption-col", caption_col, f"one of the list's columns: {', '.join(cols)}")])
    return url_col, caption_col, cols


def iter_rows(path: Path, batch: int = 4096) -> Iterator[dict[str, Any]]:
    fmt = detect_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        for rb in pf.iter_batches(batch_size=batch):
            yield from rb.to_pylist()
    elif fmt in ("csv", "tsv"):
        import csv

        with path.open(encoding="utf-8", errors="replace", newline="") as f:
            yield from csv.DictReader(f, delimiter="\t" if fmt == "tsv" else ",")
    elif fmt == "jsonl":
        with path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    obj = {"__bad_row__": line[:200]}
                yield obj if isinstance(obj, dict) else {"__bad_row__": line[:200]}
    else:
        with path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    yield {"url": line}


def iter_shards(path: Path, shard_size: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """(shard index, rows) with shard_size rows each (the last may be shorter)."""
    shard, rows = 0, []
    for row in iter_rows(path):
        rows.append(row)
        if len(rows) == shard_size:
            yield shard, rows
            shard, rows = shard + 1, []
    if rows:
        yield shard, rows
