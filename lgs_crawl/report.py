"""The dataset card: OUT/README.md with counts, the filter funnel, caption statistics (as LGS reports
them), languages, image sizes, top categories and brands, and PNG plots (matplotlib, headless)."""

from __future__ import annotations

import hashlib
import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from lgs_crawl import __version__
from lgs_crawl.dataset import read_metadata, read_run, read_stats


def caption_words(caption: str) -> int:
    return len(caption.split())


CARD_COLUMNS = ["key", "site", "caption", "language", "original_width", "original_height", "breadcrumbs",
                "brand", "crawled_at"]


def card_numbers(out: Path, meta: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Every number the card shows, computed from metadata/ and stats/ (tests recompute them)."""
    if meta is None:
        meta = read_metadata(out, CARD_COLUMNS).to_pylist()
    stats = read_stats(out)
    words = [caption_words(m["caption"] or "") for m in meta]
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
    leaves = Counter(m["breadcrumbs"][-1] for m in meta if m["breadcrumbs"])
    dates = sorted(m["crawled_at"] for m in meta if m["crawled_at"])
    return {
        "samples": len(meta),
        "shards": len(stats),
        "seen": seen,
        "dropped": sum(dropped.values()),
        "sites": sorted({m["site"] for m in meta if m["site"]}),
        "first_crawled": dates[0] if dates else "",
        "last_crawled": dates[-1] if dates else "",
        "caption_words": {"min": min(words), "max": max(words), "mean": round(statistics.fmean(words), 1),
                          "median": statistics.median(words)} if words else {},
        "vocabulary": len({w.lower() for m in meta for w in (m["caption"] or "").split()}),
        "languages": dict(Counter(m["language"] or "unknown" for m in meta).most_common()),
        "width": _quantiles([m["original_width"] for m in meta]),
        "height": _quantiles([m["original_height"] for m in meta]),
        "top_categories": dict(leaves.most_common(15)),
        "top_brands": dict(Counter(m["brand"] for m in meta if m["brand"]).most_common(15)),
        "funnel": steps,
    }


def _quantiles(values: list[int]) -> dict[str, float]:
    if not values:
        return {}
    v = sorted(values)
    pick = lambda q: v[min(len(v) - 1, int(q * len(v)))]  # noqa: E731
    return {"min": v[0], "p10": pick(0.1), "median": pick(0.5), "p90": pick(0.9), "max": v[-1]}


def _plots(out: Path, nums: dict[str, Any], meta: list[dict[str, Any]]) -> list[str]:
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
        words = [caption_words(m["caption"] or "") for m in meta]
        ax.hist(words, bins=min(50, max(5, len(set(words)))), color="#6a9f58")
        ax.set_xlabel("caption length (words)")
        ax.set_ylabel("samples")

    def sizes(ax: Any) -> None:
        ax.scatter([m["original_width"] for m in meta], [m["original_height"] for m in meta], s=6, alpha=0.5,
                   color="#c4663a")
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
    meta = read_metadata(out, CARD_COLUMNS).to_pylist()
    nums = card_numbers(out, meta)
    run = read_run(out)
    config = run.get("config", {})
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
    plots = _plots(out, nums, meta) if nums["samples"] else []
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
