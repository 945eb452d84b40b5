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
    p.add_argument("--config", help="YAML config (filters, output, fetch, politeness)")
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
    _output_args(d)

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
            return body()
    except Locked as e:
        print(f"lgs-crawl: {e}", file=sys.stderr)
        return EXIT_LOCKED


def _install_stop(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
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

        async def go() -> RunTotals:
            stop = asyncio.Event()
            _install_stop(asyncio.get_running_loop(), stop)
            return await run_download(cfg, url_list, out, args.url_col, args.caption_col,
                                      not args.no_progress, stop)

        try:
            totals = asyncio.run(go())
            status, code = "done", EXIT_OK
        finally:
            write_run_json(out, cfg, ["download"], totals, status, code)
        print_summary("lgs-crawl download", totals.seen, totals.kept, totals.dropped, totals.seconds, str(out))
        return code

    return _run_locked(out, body)


if __name__ == "__main__":
    sys.exit(main())
