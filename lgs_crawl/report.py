"""The dataset card: OUT/README.md with counts, the filter funnel, caption statistics (as LGS reports
them), languages, image sizes, top categories and brands, and PNG plots (matplotlib, headless)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

from lgs_crawl import __version__
from lgs_crawl.dataset import read_run, read_stats


def caption_words(caption: str) -> int:
    return len(caption.split())


CARD_COLUMNS = ["key", "site", "caption", "language", "original_width", "original_height", "breadcrumbs",
                "brand", "crawled_at"]


class MetadataSummary:
    """Everything the card shows about the samples, gathered batch by batch: memory grows with the
    number of distinct values (caption lengths, sizes, languages, words), not with the samples."""

    SCATTER = 20_000  # image-size points kept for the plot (a seeded reservoir sample beyond that)

    def __init__(self) -> None:
        import random

        self.n = 0
        self.words: Counter[int] = Counter()
        self.vocabulary: set[str] = set()
        self.languages: Counter[str] = Counter()
        self.widths: Counter[int] = Counter()
        self.heights: Counter[int] = Counter()
        self.leaves: Counter[str] = Counter()
        self.brands: Counter[str] = Counter()
        self.sites: set[str] = set()
        self.dates = ("", "")
        self.sizes: list[tuple[int, int]] = []
        self._rng = random.Random(0)

    def add(self, rows: list[dict[str, Any]]) -> None:
        for m in rows:
            self.n += 1
            caption = m["caption"] or ""
            self.words[caption_words(caption)] += 1
            self.vocabulary.update(w.lower() for w in caption.split())
            self.languages[m["language"] or "unknown"] += 1
            self.widths[m["original_width"]] += 1
            self.heights[m["original_height"]] += 1
            if m["breadcrumbs"]:
                self.leaves[m["breadcrumbs"][-1]] += 1
            if m["brand"]:
                self.brands[m["brand"]] += 1
            if m["site"]:
                self.sites.add(m["site"])
            if m["crawled_at"]:
                first, last = self.dates
                self.dates = (min(first, m["crawled_at"]) if first else m["crawled_at"], max(last, m["crawled_at"]))
            size = (m["original_width"], m["original_height"])
            if len(self.sizes) < self.SCATTER:
                self.sizes.append(size)
            else:
                j = self._rng.randrange(self.n)
                if j < self.SCATTER:
                    self.sizes[j] = size


def summarise(out: Path) -> MetadataSummary:
    import pyarrow.parquet as pq

    from lgs_crawl.dataset import parquet_files

    summary = MetadataSummary()
    for path in parquet_files(out, "metadata"):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=8192, columns=CARD_COLUMNS):
            summary.add(batch.to_pylist())
    return summary


def card_numbers(out: Path, summary: MetadataSummary | None = None) -> dict[str, Any]:
    """Every number the card shows, computed from metadata/ and stats/ (tests recompute them)."""
    summary = summary or summarise(out)
    stats = read_stats(out)
    funnel: dict[str, dict[str, Any]] = {}
    dropped: Counter[str] = Counter()
    for st in stats:
        dropped.update(st["dropped_by_reason"])
    seen = sum(st["seen"] for st in stats)
    remaining = seen
    for stage_reason, n in sorted(dropped.items()):
        stage, _, reason = stage_reason.partition(".")
        funnel.setdefault(stage, {"dropped": 0, "reasons": {}})
        funnel[stage]["dropped"] += n
        funnel[stage]["reasons"][reason] = n
    order = ["fetch", "caption_quality", "language", "price", "optout", "image_valid", "source_check",
             "image_size", "phash_dedup", "internal"]
    steps = []
    for stage in sorted(funnel, key=lambda s: order.index(s) if s in order else len(order)):
        remaining -= funnel[stage]["dropped"]
        steps.append({"stage": stage, "dropped": funnel[stage]["dropped"], "remaining": remaining,
                      "reasons": funnel[stage]["reasons"]})
    words = summary.words
    return {
        "samples": summary.n,
        "shards": len(stats),
        "seen": seen,
        "dropped": sum(dropped.values()),
        "sites": sorted(summary.sites),
        "first_crawled": summary.dates[0],
        "last_crawled": summary.dates[1],
        "caption_words": {"min": min(words), "max": max(words),
                          "mean": round(sum(k * v for k, v in words.items()) / summary.n, 1),
                          "median": _median(words)} if words else {},
        "vocabulary": len(summary.vocabulary),
        "languages": dict(summary.languages.most_common()),
        "width": _quantiles(summary.widths),
        "height": _quantiles(summary.heights),
        "top_categories": dict(summary.leaves.most_common(15)),
        "top_brands": dict(summary.brands.most_common(15)),
        "funnel": steps,
    }


def _nth(counts: Counter[int], index: int) -> int:
    """The index-th value (0-based) of the sorted multiset that ``counts`` describes."""
    for value in sorted(counts):
        index -= counts[value]
        if index < 0:
            return value
    raise IndexError(index)


def _median(counts: Counter[int]) -> float:
    n = sum(counts.values())
    if n % 2:
        return _nth(counts, n // 2)
    return (_nth(counts, n // 2 - 1) + _nth(counts, n // 2)) / 2


def _quantiles(counts: Counter[int]) -> dict[str, float]:
    n = sum(counts.values())
    if not n:
        return {}
    pick = lambda q: _nth(counts, min(n - 1, int(q * n)))  # noqa: E731
    return {"min": min(counts), "p10": pick(0.1), "median": pick(0.5), "p90": pick(0.9), "max": max(counts)}


def _plots(out: Path, nums: dict[str, Any], summary: MetadataSummary) -> list[str]:
    # the object API with the Agg canvas: no pyplot, no GUI backend probing, nothing global to close
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def figure(name: str, title: str, draw: Any, size: tuple[float, float] = (7, 3.5)) -> str:
        fig = Figure(figsize=size, layout="tight")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        draw(ax)
        ax.set_title(title)
        fig.savefig(out / name, dpi=110)
        return name

    def funnel(ax: Any) -> None:
        labels = ["seen"] + [s["stage"] for s in nums["funnel"]]
        values = [nums["seen"]] + [s["remaining"] for s in nums["funnel"]]
        ax.barh(labels[::-1], values[::-1], color="#4878a8")
        for i, v in enumerate(values[::-1]):
            ax.text(v, i, f" {v}", va="center", fontsize=8)
        ax.set_xlabel("records remaining after each stage")

    def lengths(ax: Any) -> None:
        words = summary.words
        ax.hist(list(words), weights=list(words.values()), bins=min(50, max(5, len(words))), color="#6a9f58")
        ax.set_xlabel("caption length (words)")
        ax.set_ylabel("samples")

    def sizes(ax: Any) -> None:
        ax.scatter([w for w, _ in summary.sizes], [h for _, h in summary.sizes], s=6, alpha=0.5, color="#c4663a")
        ax.set_xlabel("source width (px)")
        ax.set_ylabel("source height (px)")

    def languages(ax: Any) -> None:
        ax.bar(list(nums["languages"]), list(nums["languages"].values()), color="#8c6bb1")
        ax.set_ylabel("samples")

    return [figure("funnel.png", "Filter funnel", funnel),
            figure("caption_length.png", "Caption length", lengths),
            figure("image_size.png", "Source image sizes", sizes, (5, 5)),
            figure("languages.png", "Caption languages", languages, (6, 3.5))]


def write_card(out: Path) -> Path:
    summary = summarise(out)
    nums = card_numbers(out, summary)
    run = read_run(out)
    config = run.get("config", {})
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
    plots = _plots(out, nums, summary) if nums["samples"] else []
    cw = nums["caption_words"]
    lines = [
        "---",
        "license: other",
        "task_categories: [image-to-text, text-to-image, image-classification]",
        "tags: [e-commerce, product-images, image-captions, webdataset, lgs-crawl]",
        "configs:",
        "- config_name: default",
        "  data_files: shards/*.tar",
        "---",
        "",
        f"# Product image–caption dataset ({', '.join(nums['sites']) or 'no site'})",
        "",
        f"Made by lgs-crawl {__version__}: product pages crawled (or a released URL list downloaded), "
        "each image–caption pair passed through a filter chain, and the survivors written as WebDataset "
        "shards with Parquet metadata.",
        "",
        "## What was collected",
        "",
        "| | |",
        "|---|---|",
        f"| Sites | {', '.join(nums['sites']) or '-'} |",
        f"| Crawled | {nums['first_crawled'] or '-'} to {nums['last_crawled'] or '-'} |",
        f"| Samples | {nums['samples']} |",
        f"| Shards | {nums['shards']} |",
        f"| Records seen | {nums['seen']} |",
        f"| Records dropped | {nums['dropped']} |",
        f"| Tool version | lgs-crawl {__version__} |",
        f"| Config digest | `{digest}` (sha256 of the resolved config in run.json) |",
        f"| Last run | {run.get('command', ['-'])[0]}, status {run.get('status', '-')}, "
        f"exit code {run.get('exit_code', '-')} |",
        "",
        "## Filter funnel",
        "",
        "| stage | dropped | remaining | reasons |",
        "|---|---:|---:|---|",
        f"| seen | | {nums['seen']} | |",
    ]
    for s in nums["funnel"]:
        reasons = ", ".join(f"{r}: {n}" for r, n in sorted(s["reasons"].items(), key=lambda kv: -kv[1]))
        lines.append(f"| {s['stage']} | {s['dropped']} | {s['remaining']} | {reasons} |")
    if "funnel.png" in plots:
        lines += ["", "![Filter funnel](funnel.png)"]
    lines += ["", "## Captions", ""]
    if cw:
        lines += [f"Caption length in words: min {cw['min']}, max {cw['max']}, mean {cw['mean']}, "
                  f"median {cw['median']}. Vocabulary: {nums['vocabulary']} distinct words "
                  "(lower-cased, split on white space).", "", "![Caption length](caption_length.png)"]
    lines += ["", "## Languages", "", "| language | samples |", "|---|---:|"]
    lines += [f"| {lang} | {n} |" for lang, n in nums["languages"].items()]
    if "languages.png" in plots:
        lines += ["", "![Languages](languages.png)"]
    lines += ["", "## Image sizes (source)", "", "| | min | p10 | median | p90 | max |", "|---|---:|---:|---:|---:|---:|"]
    for dim in ("width", "height"):
        q = nums[dim]
        if q:
            lines.append(f"| {dim} | {q['min']} | {q['p10']} | {q['median']} | {q['p90']} | {q['max']} |")
    if "image_size.png" in plots:
        lines += ["", "![Image sizes](image_size.png)"]
    lines += ["", "## Top categories", "", "| category (breadcrumb leaf) | samples |", "|---|---:|"]
    lines += [f"| {c} | {n} |" for c, n in nums["top_categories"].items()]
    lines += ["", "## Top brands", "", "| brand | samples |", "|---|---:|"]
    lines += [f"| {b} | {n} |" for b, n in nums["top_brands"].items()]
    lines += [
        "", "## How the data was collected", "",
        "- robots.txt was obeyed for the `lgs-crawl` user-agent token and its Crawl-delay honoured; requests "
        "carried an identifying User-Agent with a contact URL; per-domain concurrency was limited and the "
        "crawler backed off on 429/503.",
        "- Images whose response carried `X-Robots-Tag: noai`, `noimageai`, `noindex` or `noimageindex` "
        "were dropped before their body was read.",
        "- Images and captions remain the property of their sellers and sites; check each site's terms "
        "before use. `lgs-crawl export-urls` writes a URL list to share instead of the images.",
        "", "## Layout", "",
        "`shards/*.tar` (KEY.jpg, KEY.txt, KEY.json), `metadata/*.parquet` (one row per sample), "
        "`stats/*.json`, `rejects/*.parquet`, `run.json`, `croissant.json`.", "",
    ]
    path = out / "README.md"
    path.write_text("\n".join(lines))
    (out / "card.json").write_text(json.dumps(nums, indent=2, default=str))
    return path
