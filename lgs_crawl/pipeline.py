"""One record through the chain: text stage -> fetch (+ headers stage) -> image work -> image stage -> sink.

Both sources (URL list and crawl) use this; they differ only in how an image is fetched and which
shard a record lands in.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, Protocol

from lgs_crawl.chain import Chain, Rejection
from lgs_crawl.fetch import FetchResult, HeaderCheck
from lgs_crawl.imaging import process_image, process_images
from lgs_crawl.record import Record

MISSING_REASONS = ("http_404", "http_410", "dns_error", "connection_error", "wrong_content_type")
FetchFn = Callable[[str, HeaderCheck], Awaitable[FetchResult]]


class Sink(Protocol):
    def add(self, record: Record, counts: Counter[str]) -> None: ...
    def reject(self, record: Record, why: Rejection, counts: Counter[str]) -> None: ...


class ImageBatcher:
    """Hands fetched bodies to the process pool in small batches. A pool round trip costs the event
    loop's process ~0.25 ms of CPU (pickling, two queue threads, a wake-up); per batch of 16 it is
    ~0.035 ms an image. A partial batch leaves after ``wait`` seconds."""

    def __init__(self, pool: Executor, size: int = 16, wait: float = 0.002) -> None:
        self.pool, self.size, self.wait = pool, size, wait
        self._bodies: list[bytes] = []
        self._futures: list[asyncio.Future[dict[str, Any]]] = []
        self._timer: asyncio.TimerHandle | None = None

    def submit(self, body: bytes) -> asyncio.Future[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._bodies.append(body)
        self._futures.append(future)
        if len(self._bodies) >= self.size:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.wait, self._flush)
        return future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        bodies, futures = self._bodies, self._futures
        self._bodies, self._futures = [], []
        if bodies:
            job = asyncio.get_running_loop().run_in_executor(self.pool, process_images, bodies)
            job.add_done_callback(lambda done: _deliver(done, futures))


def _deliver(job: asyncio.Future[list[dict[str, Any]]], futures: list[asyncio.Future[dict[str, Any]]]) -> None:
    error = job.exception() if not job.cancelled() else asyncio.CancelledError()
    for n, future in enumerate(futures):
        if future.done():  # its record's task was cancelled meanwhile
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(job.result()[n])


class Pipeline:
    def __init__(self, chain: Chain, pool: Executor | None) -> None:
        self.chain = chain
        self.pool = pool
        self.images = ImageBatcher(pool) if pool is not None else None

    async def process(self, record: Record, fetch: FetchFn, sink: Sink) -> bool:
        """Returns True when the record was kept. Never raises for bad input: it is rejected instead."""
        counts: Counter[str] = Counter()
        why = self.chain.run("text", record, counts)
        if why is None:
            why = await self._fetch_and_decode(record, fetch, counts)
        if why is None:
            why = self.chain.run("image", record, counts)
        if why is not None:
            record.image = b""
            sink.reject(record, why, counts)
            return False
        self.chain.commit(record)
        sink.add(record, counts)
        return True

    async def _fetch_and_decode(self, record: Record, fetch: FetchFn, counts: Counter[str]) -> Rejection | None:
        header_counts: list[Counter[str]] = []

        def on_headers(status: int, headers: dict[str, str]) -> Rejection | None:
            # a retried download shows headers more than once: only the last showing is counted
            record.http_status, record.headers = status, headers
            header_counts[:] = [Counter()]
            return self.chain.run("headers", record, header_counts[0])

        counts["fetch.seen"] += 1
        result = await fetch(record.image_url, on_headers)
        if header_counts and (result.rejection is None or result.rejection.stage != "fetch"):
            counts.update(header_counts[0])
        record.http_status = result.status
        if result.rejection is not None:
            if result.rejection.stage == "fetch" and record.extra.get("source_sha256") and \
                    result.rejection.reason in MISSING_REASONS:
                # a released image that no longer downloads: say so in the release's own terms
                result.rejection = Rejection("fetch", "source_missing", result.rejection.reason)
            if result.rejection.stage == "fetch":
                counts[f"fetch.dropped.{result.rejection.reason}"] += 1
            else:  # fetched fine; a headers-stage filter dropped it
                counts["fetch.kept"] += 1
            return result.rejection
        counts["fetch.kept"] += 1
        body = result.body or b""
        fields = process_image(body) if self.images is None else await self.images.submit(body)
        for name, value in fields.items():
            setattr(record, name, value)
        return None
