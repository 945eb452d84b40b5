"""The demo shop server (aiohttp) on 127.0.0.1, with switchable faults for reliability tests.

Faults (``--faults a,b``): ``429`` (every 7th image answers 429 with Retry-After once), ``503`` (every 11th
product page answers 503 once), ``slow`` (every 13th image takes 2 s), ``truncated`` (every 17th image
is cut short), ``wrong_type`` (every 19th image is an HTML page), ``redirect_loop`` (category pages
link to a page that redirects in a circle), ``pagination_trap`` (listings always have a next page),
``reset`` (every 23rd image: the connection is dropped without an answer). ``down_after=N`` makes the
whole shop drop every connection after N requests (a shop that goes down halfway).
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import threading
from collections import Counter
from functools import lru_cache

from aiohttp import web

from lgs_crawl.demo import pages
from lgs_crawl.demo.catalogue import Catalogue, ImageSpec, slugify
from lgs_crawl.demo.images import encode, product_image

FAULTS = ("429", "503", "slow", "truncated", "wrong_type", "redirect_loop", "pagination_trap", "reset")
log = logging.getLogger("lgs_crawl.demo")


@lru_cache(maxsize=4096)
def image_bytes(spec: ImageSpec) -> bytes:
    if spec.derive == "near":
        im = product_image(spec.seed, spec.width, spec.height)
        im = im.resize((int(spec.width * 0.8), int(spec.height * 0.8)))
        return encode(im, "JPEG", quality=75)
    im = product_image(spec.seed, spec.width, spec.height)
    if spec.fmt == "JPEG":
        return encode(im, "JPEG", quality=88)
    if spec.fmt == "WEBP":
        return encode(im, "WEBP", quality=85)
    return encode(im, "PNG", compress_level=1)


CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}


class DemoShop:
    def __init__(self, products: int = 300, seed: int = 7, crawl_delay: float = 0.0,
                 faults: tuple[str, ...] = (), down_after: int = 0) -> None:
        self.down_after = down_after
        self.requests = 0
        self.catalogue = Catalogue(products, seed)
        self.crawl_delay = crawl_delay
        self.faults = set(faults)
        self.hits: Counter[str] = Counter()
        self.log: list[tuple[float, str, str]] = []  # (time, path, user agent)
        self.base = ""
        self._runner: web.AppRunner | None = None
        self._leaves = {(slugify(t), slugify(leaf)): (t, leaf) for t, leaf in self.catalogue.leaves()}

    # -- app ------------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        r = app.router
        r.add_get("/", self.home)
        r.add_get("/robots.txt", self.robots)
        r.add_get("/sitemap_index.xml", self.sitemap_index)
        r.add_get("/sitemaps/{name}", self.sitemap)
        r.add_get("/c/{top}", self.top)
        r.add_get("/c/{top}/{leaf}", self.category)
        r.add_get("/p/{slug}", self.product)
        r.add_get("/private/{tail:.*}", self.private)
        r.add_get("/images/{name}", self.image)
        r.add_get("/static/app.js", self.app_js)
        r.add_get("/static/placeholder.gif", self.placeholder)
        r.add_get("/about.html", self.about)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler):  # type: ignore[no-untyped-def]
        import time

        self.requests += 1
        if self.down_after and self.requests > self.down_after:
            request.transport.close()  # type: ignore[union-attr]
            raise web.HTTPServiceUnavailable()
        self.hits[request.path] += 1
        self.log.append((time.monotonic(), request.path_qs, request.headers.get("User-Agent", "")))
        if not self.base:
            self.base = f"http://{request.host}"
        return await handler(request)

    def _base(self, request: web.Request) -> str:
        return f"http://{request.host}"

    async def home(self, request: web.Request) -> web.Response:
        return web.Response(text=pages.home_page(self.catalogue), content_type="text/html")

    async def about(self, request: web.Request) -> web.Response:
        return web.Response(text=pages._layout("About", "<p>A demo shop for lgs-crawl.</p>"),
                            content_type="text/html")

    async def robots(self, request: web.Request) -> web.Response:
        return web.Response(text=pages.robots_txt(self._base(request), self.crawl_delay))

    async def sitemap_index(self, request: web.Request) -> web.Response:
        return web.Response(text=pages.sitemap_index(self._base(request)), content_type="application/xml")

    async def sitemap(self, request: web.Request) -> web.Response:
        name, base = request.match_info["name"], self._base(request)
        if name == "products-1.xml.gz":
            body = gzip.compress(pages.product_sitemap(self.catalogue, base, 1).encode())
            return web.Response(body=body, content_type="application/x-gzip")
        if name == "products-2.xml":
            return web.Response(text=pages.product_sitemap(self.catalogue, base, 2), content_type="application/xml")
        if name == "categories.xml":
            return web.Response(text=pages.category_sitemap(self.catalogue, base), content_type="application/xml")
        raise web.HTTPNotFound()

    async def top(self, request: web.Request) -> web.Response:
        for (t, _), (top, _) in self._leaves.items():
            if t == request.match_info["top"]:
                return web.Response(text=pages.top_page(self.catalogue, top), content_type="text/html")
        raise web.HTTPNotFound()

    async def category(self, request: web.Request) -> web.Response:
        key = (request.match_info["top"], request.match_info["leaf"])
        if key not in self._leaves:
            raise web.HTTPNotFound()
        try:
            page = int(request.query.get("page", "1"))
        except ValueError:
            page = 1
        top, leaf = self._leaves[key]
        trap = "pagination_trap" in self.faults
        html, n_pages = pages.category_page(self.catalogue, top, leaf, max(page, 1), trap)
        if (page > n_pages or page < 1) and not trap:
            # like real shops: an out-of-range page redirects to the first one
            raise web.HTTPFound(request.path)
        if "redirect_loop" in self.faults:
            html = html.replace("</ul>", "<li><a class=\"product-link\" href=\"/p/loop-1.html\">Loop</a></li></ul>")
        return web.Response(text=html, content_type="text/html")

    async def product(self, request: web.Request) -> web.Response:
        path = request.path
        if path.startswith("/p/loop-") and "redirect_loop" in self.faults:
            n = int(path[len("/p/loop-"):].split(".")[0]) % 3 + 1
            raise web.HTTPFound(f"/p/loop-{n}.html")
        p = self.catalogue.by_path.get(path)
        if p is None:
            raise web.HTTPNotFound()
        if "503" in self.faults and p.index % 11 == 0 and self.hits[path] == 1:
            return web.Response(status=503, text="busy", headers={"Retry-After": "1"})
        return web.Response(text=pages.product_page(self.catalogue, p, self._base(request)),
                            content_type="text/html")

    async def private(self, request: web.Request) -> web.Response:
        return web.Response(text=pages._layout("Private", "<h1>Staff only</h1>"), content_type="text/html")

    async def image(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        spec = self.catalogue.images.get(path)
        if spec is None:
            raise web.HTTPNotFound()
        ext = path.rsplit(".", 1)[-1]
        n = int(path.split("/p", 1)[1].split("-")[0]) if "/p" in path else 0
        if "429" in self.faults and n % 7 == 0 and self.hits[path] == 1:
            return web.Response(status=429, text="slow down", headers={"Retry-After": "1"})
        if "reset" in self.faults and n % 23 == 0:
            request.transport.close()  # type: ignore[union-attr]
            raise web.HTTPServiceUnavailable()
        if "wrong_type" in self.faults and n % 19 == 0:
            return web.Response(text="<html>Image moved</html>", content_type="text/html")
        body = await asyncio.get_running_loop().run_in_executor(None, image_bytes, spec)
        if "slow" in self.faults and n % 13 == 0:
            await asyncio.sleep(2)
        if "truncated" in self.faults and n % 17 == 0:
            resp = web.StreamResponse(headers={"Content-Type": CONTENT_TYPES[ext],
                                               "Content-Length": str(len(body))})
            await resp.prepare(request)
            await resp.write(body[: len(body) // 2])
            request.transport.close()  # type: ignore[union-attr]
            return resp
        return web.Response(body=body, content_type=CONTENT_TYPES[ext],
                            headers={"Cache-Control": "max-age=86400"})

    async def app_js(self, request: web.Request) -> web.Response:
        return web.Response(text=pages.APP_JS, content_type="application/javascript")

    async def placeholder(self, request: web.Request) -> web.Response:
        return web.Response(body=bytes.fromhex("47494638396101000100800000ffffff00000021f90401000000002c00000000"
                                               "010001000002024401003b"), content_type="image/gif")

    # -- running ----------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self.faults or self.down_after:
            # dropped connections are the point here; aiohttp's tracebacks about them are noise
            logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sock = site._server.sockets[0]  # type: ignore[union-attr]
        self.base = f"http://{host}:{sock.getsockname()[1]}"
        return self.base

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class ShopThread:
    """The shop on its own event loop in a background thread (tests, benchmarks)."""

    def __init__(self, shop: DemoShop, port: int = 0) -> None:
        self.shop, self.port = shop, port
        self.loop = asyncio.new_event_loop()
        self.base = ""
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.base = self.loop.run_until_complete(self.shop.start(port=self.port))
        self._ready.set()
        self.loop.run_forever()

    def __enter__(self) -> ShopThread:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("demo shop did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.shop.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def serve_forever(port: int, products: int, seed: int, crawl_delay: float, faults: tuple[str, ...],
                  ready_file: str | None = None, down_after: int = 0) -> None:
    async def main() -> None:
        shop = DemoShop(products, seed, crawl_delay, faults, down_after)
        base = await shop.start(port=port)
        print(f"demo shop on {base} ({products} products; faults: {', '.join(faults) or 'none'})", flush=True)
        if ready_file:
            from pathlib import Path

            Path(ready_file).write_text(base)
        try:
            await asyncio.Event().wait()
        finally:
            await shop.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
