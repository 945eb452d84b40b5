"""Logging: human-readable on the terminal, JSON lines in --log-file for the operator's tools."""

from __future__ import annotations

import json
import logging
import time

from rich.logging import RichHandler

from lgs_crawl.console import console


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
               "level": record.levelname.lower(), "logger": record.name, "event": record.getMessage()}
        for k, v in record.__dict__.items():
            if k.startswith("lgs_"):
                doc[k[4:]] = v
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def setup_logging(verbose: bool = False, log_file: str | None = None) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    term = RichHandler(console=console, show_path=False, rich_tracebacks=False)
    term.setLevel(logging.DEBUG if verbose else logging.WARNING)
    term.addFilter(lambda r: r.name.startswith("lgs_crawl") or r.levelno >= logging.ERROR)
    root.addHandler(term)
    if log_file:
        fh = logging.FileHandler(log_file, encoding="utf-8")
        fh.setFormatter(JsonLines())
        fh.setLevel(logging.INFO)
        root.addHandler(fh)
    for noisy in ("scrapy", "twisted", "asyncio", "filelock", "PIL", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING if not verbose else logging.INFO)
