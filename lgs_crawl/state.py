"""Run state in an embedded SQLite file in the output folder (no server needed).

A shard is committed by renaming its files into place and then recording it here in one
transaction with the samples it holds; on start, files of shards not recorded here are leftovers of a
crash and are removed, so a resumed run yields every accepted sample exactly once.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS shards (
    shard INTEGER PRIMARY KEY, samples INTEGER NOT NULL, rejected INTEGER NOT NULL,
    source TEXT NOT NULL DEFAULT '', finished_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
    key TEXT PRIMARY KEY, shard INTEGER NOT NULL, image_url TEXT, page_url TEXT,
    phash TEXT, dhash TEXT, sha256 TEXT, chroma TEXT);
CREATE INDEX IF NOT EXISTS samples_page ON samples(page_url);
CREATE TABLE IF NOT EXISTS pages (
    url TEXT PRIMARY KEY, shard INTEGER NOT NULL, lastmod TEXT NOT NULL DEFAULT '');
"""

SUBDIRS = ("shards", "metadata", "stats", "rejects")


class RunState:
    def __init__(self, out: Path) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        for d in SUBDIRS:
            (out / d).mkdir(exist_ok=True)
        self.db = sqlite3.connect(out / "state.sqlite", isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(samples)")}
        if "chroma" not in columns:  # state written before the colour check existed
            self.db.execute("ALTER TABLE samples ADD COLUMN chroma TEXT")

    def close(self) -> None:
        self.db.close()

    # -- recovery -------------------------------------------------------------------------------
    def recover(self) -> list[str]:
        """Remove temporary files and files of shards that were never committed. Returns what went."""
        done = self.finished_shards()
        removed = []
        for d in SUBDIRS:
            for p in (self.out / d).iterdir():
                stem = p.name.split(".")[0]
                if p.name.endswith(".tmp") or (stem.isdigit() and int(stem) not in done):
                    p.unlink()
                    removed.append(str(p.relative_to(self.out)))
        return removed

    # -- shards ---------------------------------------------------------------------------------
    def finished_shards(self) -> set[int]:
        return {r[0] for r in self.db.execute("SELECT shard FROM shards")}

    def next_shard(self) -> int:
        row = self.db.execute("SELECT MAX(shard) FROM shards").fetchone()
        return 0 if row[0] is None else row[0] + 1

    def commit_shard(self, shard: int, samples: list[dict[str, Any]], rejected: int,
                     pages: list[tuple[str, str]] = (), source: str = "") -> None:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("INSERT OR REPLACE INTO shards VALUES (?,?,?,?,?)",
                            (shard, len(samples), rejected, source, time.time()))
            self.db.executemany(
                "INSERT OR REPLACE INTO samples VALUES (?,?,?,?,?,?,?,?)",
                [(s["key"], shard, s["image_url"], s["page_url"], s["phash"], s["dhash"], s["sha256"], s["chroma"])
                 for s in samples])
            self.db.executemany("INSERT OR REPLACE INTO pages VALUES (?,?,?)",
                                [(url, shard, lastmod) for url, lastmod in pages])

    def samples(self) -> Iterator[tuple[str, str, str, str, str]]:
        """(key, phash, dhash, chroma, sha256) of every committed sample, to rebuild the dedup index."""
        yield from self.db.execute("SELECT key, phash, dhash, chroma, sha256 FROM samples ORDER BY key")

    def committed_pages(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT url, lastmod FROM pages"))


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
