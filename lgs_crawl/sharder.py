"""The sink: WebDataset tar shards with their Parquet metadata, stats and rejects.

A shard is written under temporary names and renamed into place only when complete (the tar last, so a
shard's tar always has its metadata and stats beside it), then committed in run state: a reader never
sees a half shard, and a resumed run removes files of shards run state does not list.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lgs_crawl.chain import Rejection, nest_counts
from lgs_crawl.record import Record
from lgs_crawl.state import RunState, fsync_dir

METADATA_SCHEMA = pa.schema([
    ("key", pa.string()), ("shard", pa.int32()), ("image_url", pa.string()), ("page_url", pa.string()),
    ("site", pa.string()), ("caption", pa.string()), ("title", pa.string()),
    ("description", pa.string()), ("brand", pa.string()), ("breadcrumbs", pa.list_(pa.string())),
    ("price", pa.float64()), ("currency", pa.string()), ("sku", pa.string()), ("gtin", pa.string()),
    ("language", pa.string()), ("width", pa.int32()), ("height", pa.int32()),
    ("original_width", pa.int32()), ("original_height", pa.int32()), ("phash", pa.string()),
    ("dhash", pa.string()), ("chroma", pa.string()), ("sha256", pa.string()), ("crawled_at", pa.string()),
    ("captions", pa.map_(pa.string(), pa.string())),
])
REJECTS_SCHEMA = pa.schema([
    ("key", pa.string()), ("shard", pa.int32()), ("image_url", pa.string()), ("page_url", pa.string()),
    ("stage", pa.string()), ("reason", pa.string()), ("detail", pa.string()), ("caption", pa.string()),
])


def crash_point(name: str) -> None:
    """Fault injection for the crash-consistency tests: LGS_CRASH_POINT=name kills the process here."""
    if os.environ.get("LGS_CRASH_POINT") == name:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def shard_name(shard: int) -> str:
    return f"{shard:06d}"


_TAR_MODE_IDS = b"0000644\x000000000\x000000000\x00"  # mode, uid, gid
_TAR_TAIL = b"0" + bytes(100) + b"ustar\x0000" + bytes(247)  # type, linkname, magic, version, the rest
# the checksum counts its own field as spaces; everything but name, size and mtime is constant
_TAR_CONST_SUM = sum(_TAR_MODE_IDS) + 8 * ord(" ") + sum(_TAR_TAIL)


def tar_header(name: str, size: int, mtime: int) -> bytes:
    """A POSIX ustar header for a regular file. Written by hand because member names are ours (short,
    ASCII) and tarfile's general path costs ~40 us a member; this one ~2 us. Byte-identical to
    tarfile's (a test checks)."""
    raw = name.encode("ascii")
    if len(raw) > 100:
        raise ValueError(f"tar member name too long: {name}")
    times = b"%011o\x00%011o\x00" % (size, mtime)
    checksum = _TAR_CONST_SUM + sum(raw) + sum(times)
    return raw.ljust(100, b"\x00") + _TAR_MODE_IDS + times + b"%06o\x00 " % checksum + _TAR_TAIL


def make_key(shard: int, index: int) -> str:
    """Digits only (WebDataset and HF datasets split keys on the first dot), unique, stable."""
    return f"{shard:06d}{index:06d}"


class ShardWriter:
    def __init__(self, out: Path, shard: int, filter_order: list[str], source: str = "",
                 extra_columns: tuple[str, ...] = ()) -> None:
        self.out, self.shard, self.filter_order, self.source = out, shard, filter_order, source
        self.extra_columns = extra_columns
        self.name = shard_name(shard)
        # temporary names start with a dot: pyarrow, DuckDB, polars and shell globs skip them
        self._tar_tmp = out / "shards" / f".{self.name}.tar.tmp"
        self._tar = open(self._tar_tmp, "wb")
        self.rows: list[dict[str, Any]] = []
        self.rejects: list[dict[str, Any]] = []
        self.pages: list[tuple[str, str]] = []
        self.counts: Counter[str] = Counter()
        self.bytes = Counter()
        self.next_index = 0
        self.started = time.time()
        self.closed = False

    @property
    def kept(self) -> int:
        return len(self.rows)

    def assign_key(self, record: Record) -> None:
        if not record.key:
            record.key = make_key(self.shard, self.next_index)
            self.next_index += 1
        record.shard = self.shard

    def _member(self, name: str, data: bytes, mtime: int) -> None:
        self._tar.write(tar_header(name, len(data), mtime))
        self._tar.write(data)
        if len(data) % 512:
            self._tar.write(bytes(512 - len(data) % 512))

    def _close_tar(self) -> None:
        self._tar.write(bytes(1024))  # end of archive: two zero blocks
        self._tar.close()

    def add(self, record: Record, counts: Counter[str] | None = None) -> None:
        if counts:
            self.counts.update(counts)
        self.assign_key(record)
        meta = record.metadata()
        mtime = int(time.time())
        self._member(f"{record.key}.{record.image_ext}", record.image, mtime)
        self._member(f"{record.key}.txt", record.caption.encode("utf-8"), mtime)
        self._member(f"{record.key}.json", json.dumps(meta, ensure_ascii=False).encode("utf-8"), mtime)
        self.rows.append(meta)
        self.bytes["source"] += record.source_bytes
        self.bytes["output"] += len(record.image)

    def reject(self, record: Record, why: Rejection, counts: Counter[str] | None = None) -> None:
        if counts:
            self.counts.update(counts)
        self.assign_key(record)
        self.bytes["source"] += record.source_bytes
        self.rejects.append({
            "key": record.key, "shard": self.shard, "image_url": record.image_url,
            "page_url": record.page_url, "stage": why.stage, "reason": why.reason,
            "detail": why.detail, "caption": record.caption[:500],
        })

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            self._tar.close()
            self._tar_tmp.unlink(missing_ok=True)

    def close(self, state: RunState) -> dict[str, Any]:
        """Write parquet, rejects and stats; rename everything into place; commit in run state."""
        self._close_tar()
        self.closed = True
        meta_tmp = self.out / "metadata" / f".{self.name}.parquet.tmp"
        rejects_tmp = self.out / "rejects" / f".{self.name}.parquet.tmp"
        stats_tmp = self.out / "stats" / f".{self.name}.json.tmp"
        # the tar goes last: whoever sees a shard's tar also finds its metadata, rejects and stats
        final = {
            meta_tmp: self.out / "metadata" / f"{self.name}.parquet",
            rejects_tmp: self.out / "rejects" / f"{self.name}.parquet",
            stats_tmp: self.out / "stats" / f"{self.name}.json",
            self._tar_tmp: self.out / "shards" / f"{self.name}.tar",
        }
        pq.write_table(_table(self.rows, METADATA_SCHEMA, self.extra_columns), meta_tmp, compression="zstd")
        pq.write_table(pa.Table.from_pylist(self.rejects, schema=REJECTS_SCHEMA), rejects_tmp, compression="zstd")
        stats = self.stats()
        stats_tmp.write_text(json.dumps(stats, indent=2))
        for path in final:
            with open(path, "rb+") as f:
                os.fsync(f.fileno())
        for src, dst in final.items():
            os.replace(src, dst)
        crash_point("after_tar_rename")  # every file in place, not yet committed in run state
        for d in ("shards", "metadata", "rejects", "stats"):
            fsync_dir(self.out / d)
        state.commit_shard(self.shard, self.rows, len(self.rejects), self.pages, self.source)
        return stats

    def stats(self) -> dict[str, Any]:
        dropped: Counter[str] = Counter(f"{r['stage']}.{r['reason']}" for r in self.rejects)
        return {
            "shard": self.shard,
            "seen": len(self.rows) + len(self.rejects),
            "kept": len(self.rows),
            "dropped": len(self.rejects),
            "dropped_by_reason": dict(sorted(dropped.items())),
            "stages": nest_counts(self.counts, ["fetch", *self.filter_order]),
            "bytes": dict(self.bytes),
            "seconds": round(time.time() - self.started, 3),
            "source": self.source,
        }


def _table(rows: list[dict[str, Any]], schema: pa.Schema, extra_columns: tuple[str, ...] = ()) -> pa.Table:
    """Contract columns typed by the schema, then the run's extra columns (from the URL list) as strings,
    so that every metadata file of a dataset has the same schema (polars and DuckDB insist)."""
    base = pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema=schema)
    for name in extra_columns:
        if name in schema.names:
            continue
        values = [r.get(name) for r in rows]
        base = base.append_column(name, pa.array(
            [None if v is None else v if isinstance(v, str) else json.dumps(v) for v in values], pa.string()))
    return base
