"""The filter chain: ordered filters from config, run stage by stage, counted per shard."""

from __future__ import annotations

from collections import Counter
from typing import Any

from lgs_crawl.filters import STAGES, Drop, Filter, Stage, build
from lgs_crawl.record import Record

# Stage names for drops that no filter makes: the fetcher's.
FETCH_STAGE = "fetch"


class Rejection:
    __slots__ = ("stage", "reason", "detail")

    def __init__(self, stage: str, reason: str, detail: str = "") -> None:
        self.stage, self.reason, self.detail = stage, reason, detail


class Chain:
    def __init__(self, filters: list[Filter]) -> None:
        self.filters = filters
        self.by_stage: dict[Stage, list[Filter]] = {s: [f for f in filters if f.stage == s] for s in STAGES}
        self._keys = {f.name: (f"{f.name}.seen", f"{f.name}.kept") for f in filters}

    @classmethod
    def from_config(cls, specs: list[dict[str, Any]]) -> Chain:
        return cls([build(s["name"], {k: v for k, v in s.items() if k != "name"}) for s in specs])

    def run(self, stage: Stage, record: Record, counts: Counter[str]) -> Rejection | None:
        """Run one stage's filters in order; count seen/kept/dropped per filter; first drop wins."""
        for f in self.by_stage[stage]:
            seen, kept = self._keys[f.name]
            counts[seen] += 1
            drop: Drop | None = f.check(record)
            if drop is not None:
                counts[f"{f.name}.dropped.{drop.reason}"] += 1
                return Rejection(f.name, drop.reason, drop.detail)
            counts[kept] += 1
        return None

    def commit(self, record: Record) -> None:
        for f in self.filters:
            f.commit(record)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.filters]


def nest_counts(counts: Counter[str], order: list[str]) -> dict[str, dict[str, Any]]:
    """{'image_size.dropped.too_small': 3, ...} -> {'image_size': {'seen':..,'kept':..,'dropped': {...}}}"""
    stages: dict[str, dict[str, Any]] = {}
    for name in order:
        stages.setdefault(name, {"seen": 0, "kept": 0, "dropped": {}})
    for k, v in counts.items():
        name, _, rest = k.partition(".")
        entry = stages.setdefault(name, {"seen": 0, "kept": 0, "dropped": {}})
        if rest.startswith("dropped."):
            entry["dropped"][rest[len("dropped."):]] = v
        elif rest in ("seen", "kept"):
            entry[rest] = v
    return stages
