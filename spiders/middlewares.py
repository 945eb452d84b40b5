"""Politeness in the downloader: robots.txt crawl-delay per domain, and backoff on 429/503.

Scrapy obeys robots.txt rules but not its Crawl-delay; this middleware keeps each domain's download
slot at least that slow (without jitter, so no gap is shorter). On 429/503 the domain's slot is slowed
to the server's Retry-After (or an exponential backoff) and the request retried; successes then let the
delay decay back.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import Response

from lgs_crawl.fetch import retry_after_seconds

BACKOFF_STATUSES = (429, 503)
MAX_SLOT_DELAY = 60.0


class PolitenessMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        s = crawler.settings
        self.retries = s.getint("LGS_BACKOFF_RETRIES", 3)
        self.backoff = s.getfloat("LGS_BACKOFF", 1.0)
        self.max_retry_after = s.getfloat("LGS_MAX_RETRY_AFTER", 60.0)
        self.base_delay = s.getfloat("DOWNLOAD_DELAY", 0.0)
        self.bumped: dict[str, float] = {}  # slot key -> delay we imposed

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PolitenessMiddleware:
        return cls(crawler)

    def _slot(self, request: Request) -> tuple[str, Any]:
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        return key, downloader.slots.get(key)

    def _floor(self, request: Request) -> float:
        spider = self.crawler.spider
        delays = getattr(spider, "crawl_delays", {})
        return max(self.base_delay, delays.get(urlsplit(request.url).netloc, 0.0))

    def process_request(self, request: Request) -> None:
        floor = self._floor(request)
        key, slot = self._slot(request)
        if slot is None:
            return None
        wanted = max(floor, self.bumped.get(key, 0.0))
        if wanted > 0 and slot.delay < wanted:
            slot.delay = wanted
        if floor > 0:
            slot.jitter = 0.0  # jitter would make some gaps shorter than the crawl-delay
            slot.concurrency = 1  # a crawl-delay is a gap between requests, not per connection
        return None

    def process_response(self, request: Request, response: Response) -> Request | Response:
        key, slot = self._slot(request)
        if response.status in BACKOFF_STATUSES:
            tries = request.meta.get("lgs_backoff_tries", 0)
            stats = self.crawler.stats
            stats.inc_value(f"lgs/backoff/{response.status}")
            if tries >= self.retries:
                return response
            after = retry_after_seconds(response.headers.get("Retry-After", b"").decode("latin-1") or None)
            wait = min(after, self.max_retry_after) if after is not None else self.backoff * 2 ** tries
            self.bumped[key] = min(MAX_SLOT_DELAY, max(wait, self.bumped.get(key, 0.0) * 2, self._floor(request)))
            if slot is not None:
                slot.delay = max(slot.delay, self.bumped[key])
            retry = request.replace(dont_filter=True)
            retry.meta["lgs_backoff_tries"] = tries + 1
            return retry
        if key in self.bumped and 200 <= response.status < 400:
            # recover gradually once the server answers again
            self.bumped[key] /= 2
            if self.bumped[key] < 0.05:
                del self.bumped[key]
            if slot is not None:
                slot.delay = max(self._floor(request), self.bumped.get(key, 0.0))
        return response


class CrawlDelayAutoThrottle(AutoThrottle):
    """Scrapy's AutoThrottle, but never faster than the domain's robots.txt Crawl-delay: AutoThrottle
    lowers a slot's delay as soon as responses come back fast, before any middleware sees them."""

    def _adjust_delay(self, slot: Any, latency: float, response: Response) -> None:
        super()._adjust_delay(slot, latency, response)
        delays = getattr(self.crawler.spider, "crawl_delays", {})
        floor = delays.get(urlsplit(response.url).netloc, 0.0)
        if slot.delay < floor:
            slot.delay = floor
