"""Reading a finished output folder back: metadata, stats and rejects (never the tars)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def parquet_files(out: Path, sub: str) -> list[Path]:
    return sorted(p for p in (out / sub).glob("*.parquet") if not p.name.startswith("."))


def read_metadata(out: Path, columns: list[str] | None = None) -> pa.Table:
    files = parquet_files(out, "metadata")
    if not files:
        from lgs_crawl.sharder import METADATA_SCHEMA

        return METADATA_SCHEMA.empty_table() if columns is None else \
            pa.schema([METADATA_SCHEMA.field(c) for c in columns]).empty_table()
    tables = [pq.read_table(f, columns=columns) for f in files]
    return pa.concat_tables(tables, promote_options="permissive")


def read_stats(out: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((out / "stats").glob("*.json")) if not p.name.startswith(".")]


def read_run(out: Path) -> dict[str, Any]:
    path = out / "run.json"
    return json.loads(path.read_text()) if path.exists() else {}
