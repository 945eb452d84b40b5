"""Baseline for download_throughput.py: the same URL list through the simplest honest pipeline —
asynchronous fetch, a process pool doing a full-size Pillow decode, resize to 256 (keep ratio, bicubic)
and JPEG encode, WebDataset TarWriter. No filters, no hashing, no draft mode, no metadata."""

from __future__ import annotations

import asyncio
import io
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import aiohttp
import pyarrow.parquet as pq
import webdataset as wds
from PIL import Image


def resize(data: bytes) -> bytes | None:
    try:
        im = Image.open(io.BytesIO(data)).convert("RGB")
        w, h = im.size
        s = 256 / min(w, h)
        if s < 1:
            im = im.resize((round(w * s), round(h * s)), Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=95)
        return buf.getvalue()
    except Exception:
        return None


async def main(url_list: str, out: str, processes: int) -> None:
    rows = pq.read_table(url_list).to_pylist()
    Path(out).mkdir(parents=True, exist_ok=True)
    sink = wds.TarWriter(f"{out}/000000.tar")
    sem = asyncio.Semaphore(64)
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(processes) as pool:
        async with aiohttp.ClientSession() as session:
            async def one(i: int, row: dict) -> None:
                async with sem:
                    try:
                        async with session.get(row["url"]) as r:
                            if r.status != 200:
                                return
                            data = await r.read()
                    except aiohttp.ClientError:
                        return
                    jpg = await loop.run_in_executor(pool, resize, data)
                    if jpg is not None:
                        sink.write({"__key__": f"{i:09d}", "jpg": jpg, "txt": row["caption"]})
            await asyncio.gather(*(one(i, r) for i, r in enumerate(rows)))
    sink.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
