"""The config-driven product spider: discovery (robots.txt sitemaps, sitemap indexes, start URLs with
follow rules, "next" pagination) and extraction (lgs_crawl.extract) into product items.

Items are plain dicts: ``{"page_url", "lastmod", "rendered", "products": [Product, ...]}``; the
pipeline turns them into records. Failed pages are counted in the crawler stats under
``lgs/pages_failed/<reason>``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import scrapy
from protego import Protego
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure
from w3lib.url import safe_url_string

from lgs_crawl.config import Config
from lgs_crawl.extract import extract, select
from lgs_crawl.sitemap import SitemapEntry, SitemapInvalid, SitemapTooLarge, iter_sitemap

PAGE_MAXSIZE = 16 * 1024 * 1024


class ProductSpider(scrapy.Spider):
    name = "product"

    def __init__(self, config: Config, known_pages: dict[str, str] | None = None, refresh: bool = False,
                 max_products: int | None = None, **kw: Any) -> None:
        assert config.site is not None
        self.cfg = config
        self.site = config.site
        super().__init__(name=self.site.name, **kw)
        hosts = {urlsplit(u).hostname for u in [*self.site.start_urls, *self.site.sitemaps]}
        self.allowed_domains = self.site.allowed_domains or sorted(h for h in hosts if h)
        self.product_patterns = [re.compile(p) for p in self.site.product_url_patterns]
        f = self.site.follow
        # off-site links are dropped by Scrapy's OffsiteMiddleware (allowed_domains), which, unlike
        # LinkExtractor(allow_domains=...), compares host names without ports
        self.links = LinkExtractor(allow=f.allow, deny=f.deny, restrict_css=f.restrict_css)
        # product links are followed wherever they appear, whatever the follow rules allow
        self.product_links = LinkExtractor(allow=self.site.product_url_patterns, deny=f.deny) \
            if self.product_patterns else None
        self.crawl_delays: dict[str, float] = {}  # netloc -> robots.txt crawl-delay (seconds)
        self.known_pages = known_pages or {}  # committed page URL -> lastmod (incremental crawls)
        self.refresh = refresh
        self.pages_requested = 0
        self.max_products = max_products
        self.items_yielded = 0

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> ProductSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.request_dropped, signal=scrapy.signals.request_dropped)
        return spider

    def request_dropped(self, request: scrapy.Request, spider: Any = None) -> None:
        """The duplicate filter drops a redirect back to a URL already visited: a redirect loop."""
        if request.url in request.meta.get("redirect_urls", []):
            self.crawler.stats.inc_value("lgs/pages")
            self._fail("redirect_loop", request.url)

    # -- discovery ---------------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        roots = {f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in [*self.site.start_urls, *self.site.sitemaps]}
        sitemaps = list(self.site.sitemaps)
        for root in sorted(roots):
            # robots.txt first, before any page: its crawl-delay must govern the very first requests
            robots = await self._robots(root)
            if robots is not None and self.site.sitemaps_from_robots:
                sitemaps += [urljoin(root, s) for s in robots.sitemaps if s not in sitemaps]
        for url in dict.fromkeys(sitemaps):
            yield scrapy.Request(url, callback=self.parse_sitemap, errback=self.page_failed, priority=20,
                                 meta={"download_maxsize": PAGE_MAXSIZE})
        for url in self.site.start_urls:
            yield self.page_request(url, priority=10)

    async def _robots(self, root: str) -> Protego | None:
        request = scrapy.Request(f"{root}/robots.txt", meta={"dont_obey_robotstxt": True}, dont_filter=True)
        try:
            response = await self.crawler.engine.download_async(request)
        except Exception as e:  # no robots.txt reachable: crawl as allowed (Scrapy's middleware agrees)
            self.logger.warning("robots.txt of %s unreachable: %s", root, e)
            return None
        if response.status != 200 or not isinstance(response, TextResponse):
            return None
        robots = Protego.parse(response.text)
        token = self.cfg.politeness.user_agent_token
        delay = robots.crawl_delay(token)
        if delay and self.cfg.politeness.obey_robots:
            self.crawl_delays[urlsplit(root).netloc] = float(delay)
            self.crawler.stats.set_value("lgs/robots_crawl_delay", float(delay))
        return robots

    def page_request(self, url: str, priority: int = 0, dont_filter: bool = False, **meta: Any) -> scrapy.Request:
        meta.setdefault("download_maxsize", PAGE_MAXSIZE)
        if self.site.render == "playwright":
            meta.update(self._playwright_meta())
        return scrapy.Request(url, callback=self.parse_page, errback=self.page_failed, priority=priority,
                              meta=meta, dont_filter=dont_filter)

    def _playwright_meta(self) -> dict[str, Any]:
        return {"playwright": True, "playwright_context": "lgs"}

    def is_product_url(self, url: str) -> bool:
        return any(p.search(url) for p in self.product_patterns)

    def parse_sitemap(self, response: Response) -> Any:
        self.crawler.stats.inc_value("lgs/sitemaps")
        try:
            entries = iter_sitemap(response.body)
            for raw in entries:
                # the URL as Scrapy requests it (percent-encoded), so it compares with committed pages
                entry = SitemapEntry(raw.kind, safe_url_string(raw.loc), raw.lastmod)
                if entry.kind == "sitemap":
                    yield scrapy.Request(entry.loc, callback=self.parse_sitemap, errback=self.page_failed,
                                         priority=20, meta={"download_maxsize": PAGE_MAXSIZE})
                    continue
                if not self.refresh and entry.loc in self.known_pages and \
                        (not entry.lastmod or entry.lastmod <= self.known_pages[entry.loc]):
                    self.crawler.stats.inc_value("lgs/pages_unchanged")
                    continue
                if self.product_patterns and not self.is_product_url(entry.loc):
                    yield self.page_request(entry.loc, priority=5)
                else:
                    yield self.page_request(entry.loc, priority=1, lastmod=entry.lastmod)
        except SitemapTooLarge as e:
            self._fail("sitemap_too_large", response.url, str(e))
        except SitemapInvalid as e:  # entries before the fault were used
            self._fail("sitemap_invalid", response.url, str(e))

    # -- pages -------------------------------------------------------------------------------------
    def parse_page(self, response: Response) -> Any:
        if not response.meta.get("dont_count") and not self._count_page():
            return
        if not isinstance(response, TextResponse):
            self._fail("not_html", response.url)
            return
        url = response.url
        products = [p for p in extract(response.text, url, self.site.selectors) if p.has_data]
        expected = self.is_product_url(url)
        if products and (expected or not self.product_patterns):
            if self.max_products is not None and self.items_yielded >= self.max_products:
                raise CloseSpider("max_products")
            self.items_yielded += 1
            self.crawler.stats.inc_value("lgs/product_pages")
            yield {"page_url": url, "lastmod": response.meta.get("lastmod", ""),
                   "rendered": bool(response.meta.get("playwright")), "products": products}
            return
        if expected:
            if self.site.render == "auto" and not response.meta.get("playwright"):
                # no product data in the HTML: the page may build it in the browser
                self.crawler.stats.inc_value("lgs/rendered_retries")
                meta = {k: v for k, v in response.meta.items() if k in ("lastmod",)}
                yield self.page_request(url, priority=2, dont_filter=True, dont_count=True, **meta,
                                        **self._playwright_meta())
                return
            self._fail("no_product_data", url)
            return
        yield from self._follow(response)

    def _follow(self, response: TextResponse) -> Any:
        next_urls = {response.urljoin(u) for u in select(response, self.site.pagination.next).getall()}
        page_no = response.meta.get("page_no", 1)
        for nxt in next_urls:
            if page_no >= self.site.pagination.max_pages:
                self.crawler.stats.inc_value("lgs/pagination_capped")
                break
            yield self.page_request(nxt, priority=3, page_no=page_no + 1)
        if self.product_links is not None:
            for link in self.product_links.extract_links(response):
                if link.url in self.known_pages and not self.refresh:
                    self.crawler.stats.inc_value("lgs/pages_unchanged")
                    continue
                yield self.page_request(link.url, priority=1)
        for link in self.links.extract_links(response):
            if link.url in next_urls or self.is_product_url(link.url):
                continue  # pagination is followed (and capped) above, never by counting pages
            yield self.page_request(link.url, priority=4)

    def _count_page(self) -> bool:
        self.pages_requested += 1
        self.crawler.stats.inc_value("lgs/pages")
        if self.pages_requested > self.site.max_pages:
            self.crawler.stats.inc_value("lgs/pages_over_cap")
            if self.pages_requested == self.site.max_pages + 1:
                self.logger.warning("max_pages (%d) reached; not parsing more pages", self.site.max_pages)
            return False
        return True

    def page_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        if isinstance(failure.value, IgnoreRequest) and not isinstance(failure.value, HttpError):
            self.crawler.stats.inc_value("lgs/pages_robots_disallowed")
            return
        if isinstance(failure.value, HttpError):
            reason = f"http_{failure.value.response.status}"
        else:
            from lgs_crawl.spiders.pipelines import failure_reason

            reason = failure_reason(failure.value)
        self.crawler.stats.inc_value("lgs/pages")
        self._fail(reason, request.url, str(failure.value)[:200])

    def _fail(self, reason: str, url: str, detail: str = "") -> None:
        self.crawler.stats.inc_value(f"lgs/pages_failed/{reason}")
        self.crawler.stats.inc_value("lgs/pages_failed")
        self.logger.info("page failed (%s): %s %s", reason, url, detail)
