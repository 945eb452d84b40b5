"""The `lgs-crawl` command. Exit codes: 0 done; 1 finished but errors passed max_error_share;
2 bad config or arguments; 75 output locked by another run."""

from __future__ import annotations

import os

# Scrapy's cookie handling makes tldextract fetch the public suffix list; there is no network here.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from lgs_crawl.config import ConfigError, load_config  # noqa: E402

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 75
log = logging.getLogger("lgs_crawl")


class ArgParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 as well; keep its message, our format
        self.print_usage(sys.stderr)
        print(f"lgs-crawl: error: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def _output_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", help="output folder")
    p.add_argument("--image-size", type=int)
    p.add_argument("--resize-mode", choices=["keep_ratio", "center_crop", "border", "no"])
    p.add_argument("--format", choices=["jpg", "webp", "png"])
    p.add_argument("--quality", type=int)
    p.add_argument("--shard-size", type=int)
    p.add_argument("--processes", type=int)
    p.add_argument("--allow-private-network", action="store_true", default=None,
                   help="allow loopback/private hosts (local tests, the demo shop)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--log-file", help="write JSON-lines logs here")
    p.add_argument("-v", "--verbose", action="store_true")


def _overrides(a: argparse.Namespace) -> dict[str, object]:
    return {
        "output.image_size": a.image_size, "output.resize_mode": a.resize_mode, "output.format": a.format,
        "output.quality": a.quality, "output.shard_size": a.shard_size, "output.processes": a.processes,
        "fetch.allow_private_network": a.allow_private_network,
    }



def build_parser() -> argparse.ArgumentParser:
    p = ArgParser(prog="lgs-crawl", description=__doc__)
    from lgs_crawl import __version__

    p.add_argument("--version", action="version", version=f"lgs-crawl {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=ArgParser)

    d = sub.add_parser("download", help="URL list -> filtered WebDataset shards")
    d.add_argument("--url-list", required=True, help="Parquet, CSV/TSV, JSON Lines or text file")
    d.add_argument("--url-col", help="image URL column (default: url or image_url)")
    d.add_argument("--caption-col", help="caption column (default: caption, text or title)")
    d.add_argument("--config", help="YAML config (filters, output, fetch, politeness)")
    _output_args(d)

    r = sub.add_parser("run", help="crawl a shop described by a site config")
    r.add_argument("--site", required=True, help="site config (YAML)")
    r.add_argument("--max-products", type=int, help="stop cleanly after this many product pages")
    r.add_argument("--max-duration", help="stop cleanly after this long (e.g. 90s, 30m, 2h)")
    r.add_argument("--refresh", action="store_true", help="re-crawl products already committed")
    _output_args(r)

    m = sub.add_parser("demo", help="serve the bundled demo shop, crawl it into ./lgs-demo, stop")
    m.add_argument("--out", default="lgs-demo")
    m.add_argument("--products", type=int, default=300)
    m.add_argument("--no-progress", action="store_true")
    m.add_argument("--log-file")
    m.add_argument("-v", "--verbose", action="store_true")

    ds = sub.add_parser("demo-shop", help="serve the demo shop alone (try your own config against it)")
    ds.add_argument("--port", type=int, default=8765)
    ds.add_argument("--products", type=int, default=300)
    ds.add_argument("--seed", type=int, default=7)
    ds.add_argument("--crawl-delay", type=float, default=0.0)
    ds.add_argument("--faults", default="", help="comma-separated: 429,503,slow,truncated,wrong_type,"
                    "redirect_loop,pagination_trap,reset")
    ds.add_argument("--down-after", type=int, default=0, help="drop every connection after N requests")
    ds.add_argument("--ready-file", help=argparse.SUPPRESS)

    rp = sub.add_parser("report", help="(re)write OUT/README.md (dataset card with plots) and croissant.json")
    rp.add_argument("out")

    ex = sub.add_parser("export-urls", help="write the shareable URL list of a dataset (no image bytes)")
    ex.add_argument("outs", nargs="+")
    ex.add_argument("--to", required=True, help="release list to write (.parquet)")

    dd = sub.add_parser("dedup", help="near-duplicates across shards, runs and folders, from metadata only")
    dd.add_argument("outs", nargs="+")
    dd.add_argument("--radius", type=int, default=8)
    dd.add_argument("--confirm-radius", type=int, default=10, help="dhash radius")
    dd.add_argument("--chroma-tolerance", type=int, default=3, help="chroma signature, in 8-bit levels")
    dd.add_argument("--to", help="duplicates.parquet path (default: FIRST_OUT/duplicates.parquet)")
    dd.add_argument("--rewrite", help="also write shards without the duplicates under this folder")

    tx = sub.add_parser("taxonomy", help="category tree from breadcrumbs; --benchmark N: a balanced label set")
    tx.add_argument("out")
    tx.add_argument("--benchmark", type=int, metavar="MIN_PER_CLASS")
    tx.add_argument("--val-share", type=float, default=0.2)
    tx.add_argument("--seed", type=int, default=0)

    v = sub.add_parser("validate", help="check a config file; exit 0 or 2")
    v.add_argument("config")

    s = sub.add_parser("schema", help="print the config's JSON Schema (for editors)")
    s.add_argument("--out", help="write to this file instead of stdout")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from lgs_crawl.logs import setup_logging

    setup_logging(getattr(args, "verbose", False), getattr(args, "log_file", None))
    try:
        handler = globals()[f"cmd_{args.command.replace('-', '_')}"]
        return handler(args)
    except ConfigError as e:
        print(f"lgs-crawl: {e.render()}", file=sys.stderr)
        return EXIT_USAGE


def cmd_validate(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    what = f"site {cfg.site.name}" if cfg.site else "download config"
    print(f"{args.config}: valid ({what}; filters: {', '.join(f['name'] for f in cfg.filters)})")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from lgs_crawl.config import json_schema

    text = json.dumps(json_schema(), indent=2)
    if args.out:
        Path(args.out).write_text(text)
    else:
        print(text)
    return EXIT_OK


def _check_out(out: str | None) -> Path:
    if not out:
        raise ConfigError([("--out", None, "an output folder is required")])
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-probe"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise ConfigError([("--out", out, f"a writable folder is required ({e.strerror})")]) from None
    return path


def _run_locked(out: Path, body) -> int:
    from lgs_crawl.lock import Locked, OutputLock

    try:
        with OutputLock(out):
            log.info("run started: %s", " ".join(sys.argv[1:]), extra={"lgs_out": str(out)})
            code = body()
            log.info("run finished with exit code %d", code, extra={"lgs_out": str(out), "lgs_exit_code": code})
            return code
    except Locked as e:
        print(f"lgs-crawl: {e}", file=sys.stderr)
        return EXIT_LOCKED


def _install_stop(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """First SIGTERM/SIGINT: stop cleanly (finish what is in flight, commit what is complete).
    Second: exit at once (what was not committed is cleaned up by the next run)."""
    def on_signal(sig: int) -> None:
        if stop.is_set():
            os._exit(128 + sig)
        log.warning("signal %d: stopping cleanly (again to exit at once)", sig)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
        except (NotImplementedError, RuntimeError):
            pass


def cmd_download(args: argparse.Namespace) -> int:
    from lgs_crawl.console import print_summary
    from lgs_crawl.download import run_download
    from lgs_crawl.runinfo import RunTotals, write_run_json

    cfg = load_config(args.config, _overrides(args))
    url_list = Path(args.url_list)
    if not url_list.is_file():
        raise ConfigError([("--url-list", args.url_list, "an existing file is required")])
    out = _check_out(args.out)

    def body() -> int:
        totals = RunTotals()
        status, code = "failed", EXIT_ERRORS

        stop = asyncio.Event()

        async def go() -> RunTotals:
            _install_stop(asyncio.get_running_loop(), stop)
            return await run_download(cfg, url_list, out, args.url_col, args.caption_col,
                                      not args.no_progress, stop)

        try:
            totals = asyncio.run(go())
            status, code = ("stopped" if stop.is_set() else "done"), EXIT_OK
        finally:
            write_run_json(out, cfg, ["download"], totals, status, code)
            write_docs(out)
        print_summary("lgs-crawl download", totals.seen, totals.kept, totals.dropped, totals.seconds, str(out))
        return code

    return _run_locked(out, body)


def _dataset_dir(path: str) -> Path:
    out = Path(path)
    if not (out / "metadata").is_dir():
        raise ConfigError([("OUT", path, "an lgs-crawl output folder (with metadata/) is required")])
    return out


def write_docs(out: Path) -> None:
    """Dataset card and Croissant file; a failure here is logged, never fatal to the run."""
    from lgs_crawl.croissant import write_croissant
    from lgs_crawl.report import write_card

    try:
        write_card(out)
        write_croissant(out)
    except Exception:
        log.exception("could not write the dataset card for %s", out)


def cmd_report(args: argparse.Namespace) -> int:
    out = _dataset_dir(args.out)
    from lgs_crawl.croissant import write_croissant
    from lgs_crawl.report import write_card

    print(write_card(out))
    print(write_croissant(out))
    return EXIT_OK


def cmd_export_urls(args: argparse.Namespace) -> int:
    from lgs_crawl.release import export_urls

    outs = [_dataset_dir(o) for o in args.outs]
    n = export_urls(outs, Path(args.to))
    print(f"{n} rows written to {args.to}")
    return EXIT_OK


def cmd_dedup(args: argparse.Namespace) -> int:
    import pyarrow.parquet as pq

    from lgs_crawl.globaldedup import find_duplicates, rewrite_without

    outs = [_dataset_dir(o) for o in args.outs]
    dups = find_duplicates(outs, args.radius, args.confirm_radius, args.chroma_tolerance)
    to = Path(args.to) if args.to else outs[0] / "duplicates.parquet"
    pq.write_table(dups, to)
    print(f"{dups.num_rows} duplicates written to {to}")
    if args.rewrite:
        n = rewrite_without(outs, dups, Path(args.rewrite))
        print(f"{n} samples rewritten without duplicates under {args.rewrite}")
    return EXIT_OK


def cmd_taxonomy(args: argparse.Namespace) -> int:
    from lgs_crawl.taxonomy import build, label_set

    out = _dataset_dir(args.out)
    tree = build(out)
    print(f"{out}/taxonomy.json: {len(tree['children'])} top-level categories, {tree['count']} samples")
    if args.benchmark:
        table = label_set(out, args.benchmark, args.val_share, args.seed)
        classes = len(set(table.column("label").to_pylist()))
        print(f"{out}/labels-{args.benchmark}.parquet: {classes} classes x {args.benchmark} samples")
    return EXIT_OK


def parse_duration(text: str | None) -> float | None:
    if not text:
        return None
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not m or float(m.group(1)) <= 0:
        raise ConfigError([("--max-duration", text, "a positive duration like 90s, 30m, 2h or 1d")])
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def cmd_run(args: argparse.Namespace) -> int:
    cfg = load_config(args.site, _overrides(args))
    if cfg.site is None:
        raise ConfigError([("site", None, "a site: section is required for lgs-crawl run")], args.site)
    if args.max_products is not None and args.max_products < 1:
        raise ConfigError([("--max-products", args.max_products, "a positive number")])
    out = _check_out(args.out or cfg.output.dir)
    return _crawl(cfg, out, args, parse_duration(args.max_duration), args.max_products, args.refresh)


def _crawl(cfg, out: Path, args: argparse.Namespace, max_duration: float | None,
           max_products: int | None, refresh: bool) -> int:
    from lgs_crawl.console import print_summary
    from lgs_crawl.crawl import error_share, run_crawl
    from lgs_crawl.runinfo import RunTotals, write_run_json

    def body() -> int:
        totals, status, code = RunTotals(), "failed", EXIT_ERRORS
        try:
            run = run_crawl(cfg, out, max_products, max_duration, refresh, not args.no_progress, args.verbose)
            totals = run.totals
            stats = run.stats
            share = error_share(stats)
            failed = {k.split("/", 2)[2]: v for k, v in stats.items() if k.startswith("lgs/pages_failed/")}
            totals.extra.update({
                "pages": stats.get("lgs/pages", 0), "product_pages": stats.get("lgs/product_pages", 0),
                "products": run.products, "pages_failed": failed, "error_share": round(share, 4),
                "robots_disallowed": stats.get("lgs/pages_robots_disallowed", 0),
                "rendered_with_browser": stats.get("lgs/rendered_retries", 0),
                "finish_reason": stats.get("finish_reason", ""),
                "pages_abandoned_at_stop": run.pages_abandoned,
                "crawler_stats": {k: v for k, v in sorted(stats.items()) if isinstance(v, (int, float, str))},
            })
            status, code = "done", EXIT_OK
            stopped_by = {"shutdown": "stopped", "closespider_timeout": "max_duration", "max_products": "max_products"}
            if stats.get("finish_reason") in stopped_by:
                status = stopped_by[stats["finish_reason"]]
            if share > cfg.max_error_share:
                status, code = "too_many_errors", EXIT_ERRORS
                log.error("%.1f%% of pages failed (max_error_share %.0f%%): %s", 100 * share,
                          100 * cfg.max_error_share, failed)
        finally:
            write_run_json(out, cfg, ["run"], totals, status, code)
            write_docs(out)
        print_summary(f"lgs-crawl run ({cfg.site.name})", totals.seen, totals.kept, totals.dropped,
                      totals.seconds, str(out))
        ex = totals.extra
        from lgs_crawl.console import console

        console.print(f"pages: {ex['pages']} ({ex['product_pages']} with products, "
                      f"{ex['rendered_with_browser']} rendered in Chromium, {sum(ex['pages_failed'].values())} "
                      f"failed, {ex['robots_disallowed']} disallowed by robots.txt)")
        return code

    return _run_locked(out, body)


def cmd_demo(args: argparse.Namespace) -> int:
    import subprocess
    import tempfile
    import time
    from importlib.resources import files

    import yaml

    from lgs_crawl.config import validate_config
    from lgs_crawl.console import console

    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp) / "ready"
        shop = subprocess.Popen([sys.executable, "-m", "lgs_crawl", "demo-shop", "--port", "0",
                                 "--products", str(args.products), "--ready-file", str(ready)],
                                stdout=subprocess.DEVNULL)
        try:
            deadline = time.time() + 60
            while not ready.exists() or not ready.read_text():
                if shop.poll() is not None or time.time() > deadline:
                    print("lgs-crawl: the demo shop did not start", file=sys.stderr)
                    return EXIT_ERRORS
                time.sleep(0.1)
            base = ready.read_text().strip()
            text = files("lgs_crawl.demo").joinpath("demo.yaml").read_text().replace("http://127.0.0.1:8765", base)
            data = yaml.safe_load(text)
            if not Path(data["site"].get("chromium_path", "/usr/bin/chromium")).exists():
                console.print("[yellow]no Chromium at /usr/bin/chromium (apt-get install chromium): the "
                              "JavaScript-rendered product pages will count as failed[/yellow]")
                data["site"]["render"] = "http"
            cfg = validate_config(data, "demo.yaml")
            out = _check_out(args.out)
            console.print(f"demo shop on {base} ({args.products} products); crawling into {out}/")
            code = _crawl(cfg, out, args, None, None, False)
        finally:
            shop.terminate()
            shop.wait(10)
    console.print(f"look at: {out}/shards/*.tar (samples), {out}/metadata/*.parquet (one row per sample), "
                  f"{out}/rejects/*.parquet (every drop and why), {out}/run.json")
    return code


def cmd_demo_shop(args: argparse.Namespace) -> int:
    from lgs_crawl.demo.shop import FAULTS, serve_forever

    faults = tuple(f for f in args.faults.split(",") if f)
    bad = [f for f in faults if f not in FAULTS]
    if bad:
        raise ConfigError([("--faults", ",".join(bad), f"allowed: {', '.join(FAULTS)}")])
    serve_forever(args.port, args.products, args.seed, args.crawl_delay, faults, args.ready_file,
                  args.down_after)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
