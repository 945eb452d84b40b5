"""Source 2: crawl a shop with Scrapy (spiders/product.py), records through the same chain and sink."""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lgs_crawl.chain import Chain
from lgs_crawl.config import Config
from lgs_crawl.console import Progress
from lgs_crawl.runinfo import RunTotals
from lgs_crawl.state import RunState

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
log = logging.getLogger("lgs_crawl.crawl")

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-dev-shm-usage", "--no-first-run", "--disable-sync"]


@dataclass
class RunContext:
    """What the Scrapy components of one run share. Scrapy deep-copies settings, so they get an id."""

    config: Config
    out: Path
    state: RunState
    chain: Chain
    progress: Progress
    totals: RunTotals = field(default_factory=RunTotals)
    products: int = 0
    pages_abandoned: int = 0
    stats: dict[str, Any] = field(default_factory=dict)


_RUNS: dict[str, RunContext] = {}


def get_run(run_id: str | None) -> RunContext:
    if not run_id or run_id not in _RUNS:
        raise RuntimeError("LGS_RUN_ID does not name a run; start crawls through lgs_crawl.crawl.run_crawl")
    return _RUNS[run_id]


def allowed_hosts(cfg: Config) -> set[str]:
    from urllib.parse import urlsplit

    site = cfg.site
    assert site is not None
    hosts = {urlsplit(u).hostname or "" for u in [*site.start_urls, *site.sitemaps]}
    return {h for h in hosts | set(site.allowed_domains) if h}


def scrapy_settings(cfg: Config, run_id: str, max_products: int | None, max_duration: float | None,
                    verbose: bool) -> dict[str, Any]:
    pol, fetch, site = cfg.politeness, cfg.fetch, cfg.site
    assert site is not None
    settings: dict[str, Any] = {
        "BOT_NAME": "lgs-crawl",
        "USER_AGENT": pol.user_agent,
        "ROBOTSTXT_OBEY": pol.obey_robots,
        "ROBOTSTXT_USER_AGENT": pol.user_agent_token,
        "CONCURRENT_REQUESTS": min(fetch.concurrency, 256),
        "CONCURRENT_REQUESTS_PER_DOMAIN": pol.concurrency_per_domain,
        "CONCURRENT_ITEMS": 64,
        "DOWNLOAD_DELAY": pol.download_delay,
        "AUTOTHROTTLE_ENABLED": pol.autothrottle,
        "EXTENSIONS": {"scrapy.extensions.throttle.AutoThrottle": None,
                       "lgs_crawl.spiders.middlewares.CrawlDelayAutoThrottle": 0},
        "AUTOTHROTTLE_START_DELAY": max(pol.download_delay, 0.1),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(pol.concurrency_per_domain),
        "DOWNLOAD_TIMEOUT": fetch.timeout,
        "DOWNLOAD_WARNSIZE": 0,
        "RETRY_TIMES": fetch.retries,
        "RETRY_HTTP_CODES": [500, 502, 504, 522, 524, 408],
        "REDIRECT_MAX_TIMES": fetch.max_redirects,
        "LGS_BACKOFF_RETRIES": fetch.retries,
        "LGS_BACKOFF": fetch.backoff,
        "LGS_MAX_RETRY_AFTER": fetch.max_retry_after,
        "DOWNLOADER_MIDDLEWARES": {"lgs_crawl.spiders.middlewares.PolitenessMiddleware": 560},
        "ITEM_PIPELINES": {"lgs_crawl.spiders.pipelines.LgsPipeline": 300},
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "TELNETCONSOLE_ENABLED": False,
        "LOG_ENABLED": True,
        "LOG_LEVEL": "INFO" if verbose else "WARNING",
        "LOGSTATS_INTERVAL": 0,
        "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.DownloaderAwarePriorityQueue",
        "DEPTH_PRIORITY": 0,
        "LGS_RUN_ID": run_id,
    }
    if max_duration:
        settings["CLOSESPIDER_TIMEOUT"] = max_duration
    if site.render in ("playwright", "auto"):
        hosts = allowed_hosts(cfg)

        def abort_request(req: Any) -> bool:
            """Only the site's own scripts and pages; images are fetched by the plain downloader."""
            from urllib.parse import urlsplit

            return urlsplit(req.url).hostname not in hosts or req.resource_type in ("image", "media", "font")

        settings.update({
            "DOWNLOAD_HANDLERS": {"http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
                                  "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"},
            "PLAYWRIGHT_BROWSER_TYPE": "chromium",
            "PLAYWRIGHT_LAUNCH_OPTIONS": {"executable_path": site.chromium_path, "headless": True,
                                          "args": CHROMIUM_ARGS, "timeout": 30_000},
            "PLAYWRIGHT_MAX_CONTEXTS": 1,
            "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": 4,
            "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": fetch.timeout * 1000,
            "PLAYWRIGHT_ABORT_REQUEST": abort_request,
        })
    return settings


def run_crawl(cfg: Config, out: Path, max_products: int | None = None, max_duration: float | None = None,
              refresh: bool = False, show_progress: bool = True, verbose: bool = False) -> RunContext:
    """Crawl one site into OUT. Blocks until the crawl ends (or is stopped by SIGINT/SIGTERM, which
    closes and commits the open shard)."""
    from scrapy.crawler import CrawlerProcess

    from lgs_crawl.spiders.product import ProductSpider

    if cfg.site is None:
        raise ValueError("a site config is required for a crawl")
    if cfg.site.render in ("playwright", "auto") and not Path(cfg.site.chromium_path).exists():
        from lgs_crawl.config import ConfigError

        raise ConfigError([("site.chromium_path", cfg.site.chromium_path,
                            "an existing Chromium binary is required for render: playwright/auto "
                            "(apt-get install chromium)")])
    state = RunState(out)
    removed = state.recover()
    if removed:
        log.warning("removed %d files of shards that were never committed", len(removed))
    run_id = uuid.uuid4().hex
    run = RunContext(cfg, out, state, Chain.from_config(cfg.filters), Progress("crawl", show_progress))
    _RUNS[run_id] = run
    try:
        process = CrawlerProcess(scrapy_settings(cfg, run_id, max_products, max_duration, verbose),
                                 install_root_handler=False)
        crawler = process.create_crawler(ProductSpider)
        process.crawl(crawler, config=cfg, known_pages=state.committed_pages(), refresh=refresh,
                      max_products=max_products)
        process.start()
        run.stats = dict(crawler.stats.get_stats()) if crawler.stats else {}
    finally:
        run.progress.stop()
        state.close()
        _RUNS.pop(run_id, None)
    return run


def error_share(stats: dict[str, Any]) -> float:
    pages = stats.get("lgs/pages", 0)
    return stats.get("lgs/pages_failed", 0) / pages if pages else 0.0
