"""`lgs-crawl dedup OUT [OUT2 ...]`: near-duplicates across shards, runs and output folders, from the
Parquet metadata alone (no tar is read), with the same index and dhash confirmation as the online
filter. The first occurrence (folders in the order given, then key order) is kept."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lgs_crawl.dataset import parquet_files, read_metadata
from lgs_crawl.dedup_index import HammingIndex

DUPLICATES_SCHEMA = pa.schema([
    ("dataset", pa.string()), ("key", pa.string()), ("duplicate_of_dataset", pa.string()),
    ("duplicate_of", pa.string()), ("distance", pa.int32()), ("exact", pa.bool_()),
])


def find_duplicates(outs: list[Path], radius: int = 8, confirm_radius: int | None = 10) -> pa.Table:
    index = HammingIndex(radius, confirm_radius)
    by_sha: dict[str, tuple[str, str]] = {}
    names = [str(o) for o in outs]
    rows = []
    for out, name in zip(outs, names):
        meta = read_metadata(out, ["key", "phash", "dhash", "sha256"]).sort_by("key").to_pylist()
        for m in meta:
            if m["sha256"] in by_sha:
                ds, key = by_sha[m["sha256"]]
                rows.append({"dataset": name, "key": m["key"], "duplicate_of_dataset": ds, "duplicate_of": key,
                             "distance": 0, "exact": True})
                continue
            p, d = int(m["phash"] or "0", 16), int(m["dhash"] or "0", 16)
            hit = index.query(p, d)
            if hit is not None:
                ds, _, key = hit[0].partition("\t")
                rows.append({"dataset": name, "key": m["key"], "duplicate_of_dataset": ds, "duplicate_of": key,
                             "distance": hit[1], "exact": False})
                continue
            by_sha[m["sha256"]] = (name, m["key"])
            index.add(p, d, f"{name}\t{m['key']}")
    return pa.Table.from_pylist(rows, schema=DUPLICATES_SCHEMA)


def rewrite_without(outs: list[Path], dups: pa.Table, to: Path) -> int:
    """New shards (and metadata) under TO/<folder name>/ without the duplicates. Returns samples written."""
    drop = {(r["dataset"], r["key"]) for r in dups.select(["dataset", "key"]).to_pylist()}
    written = 0
    for out in outs:
        dest = to / out.name
        for sub in ("shards", "metadata"):
            (dest / sub).mkdir(parents=True, exist_ok=True)
        dropped_here = {key for ds, key in drop if ds == str(out)}
        for meta_file in parquet_files(out, "metadata"):
            name = meta_file.stem
            table = pq.read_table(meta_file)
            keep = [k not in dropped_here for k in table.column("key").to_pylist()]
            kept_table = table.filter(pa.array(keep))
            keep_keys = set(kept_table.column("key").to_pylist())
            tmp = dest / "shards" / f".{name}.tar.tmp"
            with tarfile.open(out / "shards" / f"{name}.tar") as src, tarfile.open(tmp, "w") as dst:
                for member in src:
                    if member.name.split(".")[0] in keep_keys:
                        dst.addfile(member, src.extractfile(member))
            tmp.replace(dest / "shards" / f"{name}.tar")
            pq.write_table(kept_table, dest / "metadata" / f"{name}.parquet", compression="zstd")
            written += kept_table.num_rows
    return written
