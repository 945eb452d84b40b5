"""`lgs-crawl dedup OUT [OUT2 ...]`: near-duplicates across shards, runs and output folders, from the
Parquet metadata alone (no tar is read), with the same index and confirmations (dhash, chroma) as
the online filter. The first occurrence (folders in the order given, then key order) is kept."""

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


def find_duplicates(outs: list[Path], radius: int = 8, confirm_radius: int | None = 10,
                    chroma_tolerance: int | None = 3) -> pa.Table:
    """Every sample with an exact (sha256) or confirmed near duplicate earlier in the given order
    (folders as given, keys ascending); the earlier one is kept."""
    import numpy as np

    # folders written before the chroma column existed: compare without the colour check
    if not all("chroma" in pq.read_schema(f).names for out in outs for f in parquet_files(out, "metadata")):
        chroma_tolerance = None
    names, keys, phash, dhash, chroma, sha = [], [], [], [], [], []
    for out in outs:
        columns = ["key", "phash", "dhash", "sha256"] + (["chroma"] if chroma_tolerance is not None else [])
        meta = read_metadata(out, columns).sort_by("key")
        n = meta.num_rows
        names += [str(out)] * n
        keys += meta.column("key").to_pylist()
        phash += [int(h or "0", 16) for h in meta.column("phash").to_pylist()]
        dhash += [int(h or "0", 16) for h in meta.column("dhash").to_pylist()]
        chroma += [int(h or "0", 16) for h in meta.column("chroma").to_pylist()] if "chroma" in columns else [0] * n
        sha += meta.column("sha256").to_pylist()
    index = HammingIndex(radius, confirm_radius, chroma_tolerance)
    index.add_many(np.array(phash, np.uint64), np.array(dhash, np.uint64), np.array(chroma, np.uint64))
    match, dist = index.earlier_duplicates()
    first_sha: dict[str, int] = {}
    rows = []
    for i in range(len(keys)):
        j, d, exact = int(match[i]), int(dist[i]), False
        if sha[i] in first_sha:
            j, d, exact = first_sha[sha[i]], 0, True
        else:
            first_sha[sha[i]] = i
        if j >= 0:
            rows.append({"dataset": names[i], "key": keys[i], "duplicate_of_dataset": names[j],
                         "duplicate_of": keys[j], "distance": d, "exact": exact})
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
