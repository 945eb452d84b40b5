"""The item pipeline: product items -> records -> filter chain -> rolling shard sink.

Image requests go through Scrapy's downloader (``engine.download_async``), so they share the site's
per-domain concurrency, delay, robots rules and backoff; the opt-out headers stage runs on
``headers_received``, before the body is read. Text filters run before any image is requested.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, StopDownload

from lgs_crawl.caption import caption_variants, render_caption
from lgs_crawl.chain import FETCH_STAGE, Rejection
from lgs_crawl.crawl import RunContext, get_run
from lgs_crawl.download import make_pool, restore_chain
from lgs_crawl.extract import Product
from lgs_crawl.fetch import FetchResult, HeaderCheck, check_url, wrong_content_type
from lgs_crawl.pipeline import Pipeline
from lgs_crawl.record import Record, utc_now
from lgs_crawl.sharder import ShardWriter

log = logging.getLogger("lgs_crawl.crawl")


def flat_headers(headers: Any) -> dict[str, str]:
    """Scrapy's bytes multi-dict as the str dict the filters read (repeated headers joined)."""
    return {k.decode("latin-1"): b", ".join(v).decode("latin-1") for k, v in headers.items()}


def failure_reason(exc: BaseException) -> str:
    """A fixed reason string for a download exception."""
    name = type(exc).__name__
    text = str(exc)
    if isinstance(exc, IgnoreRequest):
        return "robots_disallowed" if "robots" in text.lower() else "ignored"
    if "DataLoss" in text or "DataLoss" in name or "PotentialDataLoss" in text:
        return "truncated_body"
    if "TimeoutError" in name or "TimedOut" in name or "took longer than" in text:
        return "timeout"
    if "DNSLookupError" in name:
        return "dns_error"
    if "CancelledError" in name and ("size" in text or "maxsize" in text or not text):
        return "too_large"
    if "redirect" in text.lower():
        return "too_many_redirects"
    return "connection_error"


class ItemBuffer:
    """Collects one product page's outcomes so they land in one shard together with the page itself:
    a page is committed exactly when all of its records are (resume and incremental crawls rely on it)."""

    def __init__(self) -> None:
        self.kept: list[tuple[Record, Counter[str]]] = []
        self.rejected: list[tuple[Record, Rejection, Counter[str]]] = []

    def add(self, record: Record, counts: Counter[str]) -> None:
        self.kept.append((record, counts))

    def reject(self, record: Record, why: Rejection, counts: Counter[str]) -> None:
        self.rejected.append((record, why, counts))


class RollingSink:
    """Shards fill page by page up to shard_size kept samples; a page is never split, so a page that
    would overflow the open shard starts the next one (only a page with more than shard_size images
    makes a bigger shard)."""

    def __init__(self, run: RunContext, filter_order: list[str]) -> None:
        self.run = run
        self.order = filter_order
        self.writer: ShardWriter | None = None
        self.source = run.config.site.name if run.config.site else ""

    def _current(self) -> ShardWriter:
        if self.writer is None:
            self.writer = ShardWriter(self.run.out, self.run.state.next_shard(), self.order, self.source)
        return self.writer

    def flush(self, buffer: ItemBuffer, page_url: str, lastmod: str) -> None:
        limit = self.run.config.output.shard_size
        if self.writer is not None and self.writer.kept and self.writer.kept + len(buffer.kept) > limit:
            self.close()  # this page would overflow the shard: it starts the next one instead
        w = self._current()
        for record, counts in buffer.kept:
            w.add(record, counts)
            self.run.progress.update(True)
        for record, why, counts in buffer.rejected:
            w.reject(record, why, counts)
            self.run.progress.update(False)
        # a page without a sitemap lastmod counts as modified when we crawled it
        w.pages.append((page_url, lastmod or utc_now()))
        if w.kept >= limit or w.next_index >= 999_000:
            self.close()

    def close(self) -> None:
        if self.writer is None:
            return
        w, self.writer = self.writer, None
        if w.kept == 0 and not w.rejects and not w.pages:
            w.abort()
            return
        stats = w.close(self.run.state)
        self.run.totals.add_shard(stats)
        log.info("shard %s committed: %d kept, %d dropped", w.name, stats["kept"], stats["dropped"],
                 extra={"lgs_shard": w.shard, "lgs_kept": stats["kept"], "lgs_dropped": stats["dropped"]})


def records_from_item(item: dict[str, Any], run: RunContext) -> list[Record]:
    site = run.config.site
    assert site is not None
    out: list[Record] = []
    for product in item["products"]:
        p: Product = product
        images = p.images[:1] if site.images == "first" else p.images
        for url in images:
            rec = Record(site=site.name, page_url=item["page_url"], image_url=url, title=p.title,
                         description=p.description, brand=p.brand, breadcrumbs=list(p.breadcrumbs),
                         price_text=p.price, currency=p.currency.upper() if len(p.currency) == 3 else "",
                         sku=p.sku, gtin=p.gtin)
            try:
                rec.price = float(p.price) if p.price else None
            except ValueError:
                rec.price = None  # a locale-formatted text price: the price filter parses it
            rec.caption = render_caption(rec, run.config.caption.template)
            rec.captions = caption_variants(rec)
            out.append(rec)
    return out


class LgsPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.run = get_run(crawler.settings.get("LGS_RUN_ID"))
        crawler.signals.connect(self.headers_received, signal=signals.headers_received)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LgsPipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        run = self.run
        self.chain = run.chain
        restore_chain(self.chain, run.state)
        self.pool = make_pool(run.config)
        self.pipeline = Pipeline(self.chain, self.pool)
        self.sink = RollingSink(run, ["fetch", *self.chain.names])
        self.allow_private = run.config.fetch.allow_private_network
        self.max_bytes = run.config.fetch.max_image_bytes

    def close_spider(self) -> None:
        self.sink.close()
        self.pool.shutdown(wait=True, cancel_futures=True)

    async def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        records = records_from_item(item, self.run)
        buffer = ItemBuffer()
        await asyncio.gather(*(self._one(r, buffer) for r in records))
        if any(why.reason == "shutdown" for _, why, _ in buffer.rejected):
            # the crawl is stopping under this page: leave it uncommitted, a resumed run redoes it
            self.run.pages_abandoned += 1
            return {"page_url": item["page_url"], "records": 0}
        self.run.products += len(item["products"])
        self.sink.flush(buffer, item["page_url"], item.get("lastmod", ""))
        return {"page_url": item["page_url"], "records": len(records)}

    async def _one(self, record: Record, buffer: ItemBuffer) -> None:
        try:
            await self.pipeline.process(record, self.fetch, buffer)
        except Exception as e:  # a bug must cost one record, counted, not the crawl
            log.exception("internal error on %s", record.image_url)
            buffer.reject(record, Rejection("internal", "internal_error", f"{type(e).__name__}: {e}"[:200]),
                          Counter())

    def _shutting_down(self) -> bool:
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None)  # Scrapy marks a closing spider's slot; no public flag
        return not engine.running or (slot is not None and getattr(slot, "closing", None) is not None)

    # -- image fetching through Scrapy's downloader ------------------------------------------------
    def headers_received(self, headers: Any, body_length: int, request: Request, spider: Any = None) -> None:
        check: HeaderCheck | None = request.meta.get("lgs_on_headers")
        if check is None:
            return
        # (the signal carries no status: content types are judged after the response, where a 429's
        # text/plain body does not count against the image)
        rej = check(0, flat_headers(headers))
        if rej is not None:
            request.meta["lgs_rejection"] = rej
            raise StopDownload(fail=False)

    async def fetch(self, url: str, on_headers: HeaderCheck) -> FetchResult:
        bad = check_url(url, self.allow_private)
        if bad is not None:
            return FetchResult(rejection=bad, url=url)
        request = Request(url, dont_filter=True, meta={
            "lgs_on_headers": on_headers, "download_maxsize": self.max_bytes, "handle_httpstatus_all": True})
        try:
            response = await self.crawler.engine.download_async(request)
        except Exception as e:  # every download failure becomes a counted reason
            if self._shutting_down():
                return FetchResult(rejection=Rejection(FETCH_STAGE, "shutdown"), url=url)
            return FetchResult(rejection=Rejection(FETCH_STAGE, failure_reason(e), f"{type(e).__name__}: {e}"[:160]),
                               url=url)
        rej = response.request.meta.get("lgs_rejection") if response.request is not None else None
        rej = rej or request.meta.get("lgs_rejection")
        headers = flat_headers(response.headers)
        if rej is not None:
            return FetchResult(rejection=rej, status=response.status, headers=headers, url=url)
        if response.status != 200:
            return FetchResult(rejection=Rejection(FETCH_STAGE, f"http_{response.status}"),
                               status=response.status, headers=headers, url=url)
        rej = wrong_content_type(headers)
        if rej is not None:
            return FetchResult(rejection=rej, status=response.status, headers=headers, url=url)
        if "partial" in response.flags or "dataloss" in response.flags:
            return FetchResult(rejection=Rejection(FETCH_STAGE, "truncated_body"), status=response.status,
                               headers=headers, url=url)
        return FetchResult(body=response.body, status=response.status, headers=headers, url=url)
