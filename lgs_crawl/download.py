"""Source 1: a URL list -> filter chain -> shards. One output shard per input partition of shard_size rows,
so keys are stable per input row and a re-run skips finished shards."""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from lgs_crawl.caption import render_caption
from lgs_crawl.chain import Chain, Rejection
from lgs_crawl.config import Config
from lgs_crawl.console import Progress
from lgs_crawl.fetch import Fetcher
from lgs_crawl.imaging import ImageOptions, init_worker, process_images
from lgs_crawl.pipeline import Pipeline
from lgs_crawl.record import Record
from lgs_crawl.runinfo import RunTotals
from lgs_crawl.sharder import ShardWriter, make_key
from lgs_crawl.state import RunState
from lgs_crawl.urllist import iter_shards, resolve_columns

log = logging.getLogger("lgs_crawl.download")

FIELD_COLUMNS = ("page_url", "site", "title", "description", "brand", "sku", "gtin", "currency")


def record_columns(url_col: str, caption_col: str | None) -> set[str | None]:
    """List columns that become record fields; every other column is carried along as an extra."""
    return {url_col, caption_col, "price", "breadcrumbs", "key", "shard", *FIELD_COLUMNS}


def row_to_record(row: dict[str, Any], key: str, shard: int, url_col: str, caption_col: str | None,
                  template: str) -> Record:
    rec = Record(key=key, shard=shard, image_url=str(row.get(url_col) or "").strip())
    for name in FIELD_COLUMNS:
        value = row.get(name)
        if value is not None:
            setattr(rec, name, str(value))
    price = row.get("price")
    if isinstance(price, (int, float)) and not isinstance(price, bool):
        rec.price = float(price)
    elif isinstance(price, str) and price.strip():
        rec.price_text = price
    crumbs = row.get("breadcrumbs")
    if isinstance(crumbs, list):
        rec.breadcrumbs = [str(c) for c in crumbs if c is not None]
    elif isinstance(crumbs, str) and crumbs.strip():
        rec.breadcrumbs = [c.strip() for c in crumbs.split(">") if c.strip()]
    caption = row.get(caption_col) if caption_col else None
    rec.caption = str(caption) if caption is not None else render_caption(rec, template)
    used = record_columns(url_col, caption_col)
    for name, value in row.items():
        if name not in used and name not in rec.extra:
            rec.extra[name] = value if isinstance(value, (str, int, float, bool)) or value is None else str(value)
    return rec


class ShardSink:
    def __init__(self, writer: ShardWriter, progress: Progress) -> None:
        self.writer, self.progress = writer, progress

    def add(self, record: Record, counts: Counter[str]) -> None:
        self.writer.add(record, counts)
        self.progress.update(True)

    def reject(self, record: Record, why: Rejection, counts: Counter[str]) -> None:
        self.writer.reject(record, why, counts)
        self.progress.update(False)


def image_options(cfg: Config) -> ImageOptions:
    o = cfg.output
    return ImageOptions(image_size=o.image_size, resize_mode=o.resize_mode, format=o.format,
                        quality=o.quality, max_pixels=cfg.decode.max_pixels)


def make_pool(cfg: Config) -> ProcessPoolExecutor:
    import multiprocessing as mp

    # forkserver: workers do not inherit the parent's sockets, threads or memory growth
    ctx = mp.get_context("forkserver")
    pool = ProcessPoolExecutor(cfg.output.processes, mp_context=ctx, initializer=init_worker,
                               initargs=(image_options(cfg), os.getpid()))
    for _ in range(cfg.output.processes):
        # start the workers and their imports now, while this process reads the list and loads its
        # filters, instead of when the first images arrive
        pool.submit(process_images, [])
    return pool


def restore_chain(chain: Chain, state: RunState) -> int:
    """Feed committed samples back to the filters (the dedup index spans runs)."""
    from types import SimpleNamespace

    n = 0
    for key, phash, dhash, chroma, sha in state.samples():
        chain.commit(SimpleNamespace(key=key, phash=phash or "", dhash=dhash or "", chroma=chroma or "",
                                     sha256=sha or ""))
        n += 1
    return n


async def run_download(cfg: Config, url_list: Path, out: Path, url_col: str | None = None,
                       caption_col: str | None = None, show_progress: bool = True,
                       stop: asyncio.Event | None = None) -> RunTotals:
    url_col, caption_col, columns = resolve_columns(url_list, url_col, caption_col)
    used = record_columns(url_col, caption_col)
    extra_columns = tuple(c for c in columns if c not in used)
    state = RunState(out)
    totals = RunTotals()
    try:
        removed = state.recover()
        if removed:
            log.info("removed %d leftover files of unfinished shards", len(removed))
        chain = Chain.from_config(cfg.filters)
        restored = restore_chain(chain, state)
        if restored:
            log.info("dedup index restored with %d committed samples", restored)
        done = state.finished_shards()
        progress = Progress("download", show_progress)
        stop = stop or asyncio.Event()
        with make_pool(cfg) as pool:
            pipeline = Pipeline(chain, pool)
            async with Fetcher(cfg.fetch, cfg.politeness.user_agent) as fetcher:
                await _run_shards(cfg, url_list, out, url_col, caption_col, extra_columns, state, pipeline,
                                  fetcher, done, totals, progress, stop)
        progress.stop()
    finally:
        state.close()
    return totals


async def _run_shards(cfg: Config, url_list: Path, out: Path, url_col: str, caption_col: str | None,
                      extra_columns: tuple[str, ...], state: RunState, pipeline: Pipeline, fetcher: Fetcher, done: set[int],
                      totals: RunTotals, progress: Progress, stop: asyncio.Event) -> None:
    in_flight = asyncio.Semaphore(cfg.fetch.concurrency)
    open_shards = asyncio.Semaphore(2)  # overlap shard tails with the next shard's head
    running: set[asyncio.Task[None]] = set()
    source = str(url_list)

    async def one(rec: Record, sink: ShardSink) -> None:
        try:
            await pipeline.process(rec, fetcher.fetch, sink)
        except Exception as e:  # a bug must cost one record, counted, not the run
            log.exception("internal error on %s", rec.image_url)
            sink.reject(rec, Rejection("internal", "internal_error", f"{type(e).__name__}: {e}"[:200]),
                        Counter())
        finally:
            in_flight.release()

    async def shard_task(shard: int, rows: list[dict[str, Any]]) -> None:
        writer = ShardWriter(out, shard, ["fetch", *pipeline.chain.names], source, extra_columns)
        sink = ShardSink(writer, progress)
        try:
            tasks = []
            for i, row in enumerate(rows):
                await in_flight.acquire()
                if stop.is_set():
                    in_flight.release()
                    break
                rec = row_to_record(row, make_key(shard, i), shard, url_col, caption_col,
                                    cfg.caption.template)
                tasks.append(asyncio.create_task(one(rec, sink)))
            await asyncio.gather(*tasks)
            if len(tasks) < len(rows):
                # stopped (SIGTERM/SIGINT) inside this input partition: it is redone whole on resume
                writer.abort()
                totals.extra["shards_abandoned"] = totals.extra.get("shards_abandoned", 0) + 1
                log.warning("stopping: shard %06d abandoned after %d of %d rows; a re-run redoes it",
                            shard, len(tasks), len(rows))
                return
            stats = writer.close(state)
            totals.add_shard(stats)
            log.info("shard %06d committed: %d kept, %d dropped", shard, stats["kept"], stats["dropped"],
                     extra={"lgs_shard": shard, "lgs_kept": stats["kept"], "lgs_dropped": stats["dropped"]})
        except BaseException:
            writer.abort()
            raise
        finally:
            open_shards.release()

    for shard, rows in _skip_done(iter_shards(url_list, cfg.output.shard_size), done, totals):
        await open_shards.acquire()
        if stop.is_set():
            open_shards.release()
            break
        task = asyncio.create_task(shard_task(shard, rows))
        running.add(task)
        task.add_done_callback(running.discard)
    if running:
        await asyncio.gather(*running)


def _skip_done(shards: Iterator[tuple[int, list[dict[str, Any]]]], done: set[int],
               totals: RunTotals) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    for shard, rows in shards:
        if shard in done:
            totals.shards_skipped += 1
            continue
        yield shard, rows
