"""`lgs-crawl run` on the demo shop vs a plain Scrapy spider fetching the same pages and images.

    python scripts/bench/crawl_overhead.py [--products 300]

The shop runs in its own process and is warmed (every image rendered once) before timing, so it is
not the limit. Runs: the plain spider (page and image URLs from the shop's ground truth, nothing
done with them); lgs-crawl with render: http (like for like: the JavaScript pages fail as
no_product_data); lgs-crawl with render: auto (the JavaScript pages go through Chromium).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, free_port, kept_samples, measure, report  # noqa: E402


async def warm(urls: list[str]) -> None:
    import aiohttp

    sem = asyncio.Semaphore(16)
    async with aiohttp.ClientSession() as s:
        async def one(u: str) -> None:
            async with sem, s.get(u) as r:
                await r.read()
        await asyncio.gather(*(one(u) for u in urls))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    from lgs_crawl.demo.catalogue import Catalogue

    cat = Catalogue(args.products)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    shop = subprocess.Popen([sys.executable, "-m", "lgs_crawl", "demo-shop", "--port", str(port),
                             "--products", str(args.products)], stdout=subprocess.DEVNULL, cwd=ROOT)
    try:
        time.sleep(1.5)
        pages = [base + p.path for p in cat.products]
        images = [base + path for path in cat.images]
        asyncio.run(warm(images + pages))
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            (tmp / "urls.json").write_text(json.dumps(pages + images))
            rows = []
            plain = measure([sys.executable, str(ROOT / "scripts/bench/plain_scrapy_spider.py"),
                             str(tmp / "urls.json"), str(args.concurrency)])
            rows.append(("plain Scrapy spider", len(images), plain))
            demo = yaml.safe_load((ROOT / "lgs_crawl/demo/demo.yaml").read_text()
                                  .replace("http://127.0.0.1:8765", base))
            demo["politeness"].update({"concurrency_per_domain": args.concurrency, "autothrottle": False})
            demo["output"]["shard_size"] = 1000
            demo["max_error_share"] = 0.5
            for render in ("http", "auto"):
                demo["site"]["render"] = render
                cfg = tmp / f"{render}.yaml"
                cfg.write_text(yaml.safe_dump(demo))
                out = tmp / f"out-{render}"
                m = measure([sys.executable, "-m", "lgs_crawl", "run", "--site", str(cfg), "--out", str(out),
                             "--no-progress"], cwd=ROOT)
                totals = json.loads((out / "run.json").read_text())["totals"]
                print(f"render {render}: {totals['pages']} pages, {totals['seen']} records, "
                      f"{totals['kept']} kept, {totals['pages']/m.wall:.1f} pages/s, {totals['seen']/m.wall:.1f} records/s")
                rows.append((f"lgs-crawl run (render {render})", kept_samples(out), m))
            report(f"demo shop, {args.products} products, {len(pages)} product pages, {len(images)} images, "
                   f"concurrency {args.concurrency}; 'samples' = images fetched (plain) or kept (lgs-crawl)",
                   rows, "plain Scrapy spider")
            p, h = rows[0][2].wall, rows[1][2].wall
            print(f"wall-time ratio lgs-crawl (render http) / plain spider: {h / p:.2f}")
    finally:
        shop.terminate()
        shop.wait(10)


if __name__ == "__main__":
    main()
