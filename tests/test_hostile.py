"""Faults and hostile input: each case ends with the run completing and the case counted under its
own reason, with nothing else lost."""

from __future__ import annotations

import gzip
import io
import json
import struct
import time
import tracemalloc
import zlib
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from lgs_crawl.demo.images import encode, product_image
from lgs_crawl.demo.shop import FAULTS, DemoShop, ShopThread
from lgs_crawl.extract import extract
from lgs_crawl.sitemap import SitemapInvalid, SitemapTooLarge, inflate, iter_sitemap
from tests.servers import Route, StaticServer
from tests.test_crawl import site_config

CAPTION = "Blue ceramic coffee mug with a wide handle and glossy glaze"


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (a decompression bomb's calling card)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = zlib.compress(b"\0" * 1024)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def animated(fmt: str, seed: int) -> bytes:
    frames = [product_image(seed + k, 400, 400) for k in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def test_hostile_images_in_a_url_list(tmp_path, cli):
    jpeg = {"Content-Type": "image/jpeg"}
    good = encode(product_image(800, 500, 400), "PNG")
    corrupt_png = good[:60] + b"\x00" * 200 + good[260:]
    cases = {  # path: (route, expected "stage.reason" or "kept")
        "/bomb.png": (Route(png_claiming(30000, 30000), headers={"Content-Type": "image/png"}),
                      "image_valid.decompression_bomb"),
        "/huge-claimed.jpg": (Route(stream_bytes=1 << 20, claim_length=100 * 2**20, headers=jpeg), "fetch.too_large"),
        "/huge-chunked.jpg": (Route(stream_bytes=80 * 2**20, headers=jpeg), "fetch.too_large"),
        "/corrupt.png": (Route(corrupt_png, headers={"Content-Type": "image/png"}), "image_valid.decode_error"),
        "/zero.jpg": (Route(b"", headers=jpeg), "image_valid.empty_body"),
        "/drawing.svg": (Route(b"<svg xmlns='http://www.w3.org/2000/svg' width='500' height='500'/>",
                               headers={"Content-Type": "image/svg+xml"}), "image_valid.not_an_image"),
        "/cmyk.jpg": (Route(encode(product_image(801, 500, 500).convert("CMYK"), "JPEG"), headers=jpeg), "kept"),
        "/16bit.png": (Route(encode(Image.new("I;16", (400, 300), 30000), "PNG"),
                             headers={"Content-Type": "image/png"}), "kept"),
        "/animated.gif": (Route(animated("GIF", 900), headers={"Content-Type": "image/gif"}), "kept"),
        "/animated.webp": (Route(animated("WEBP", 950), headers={"Content-Type": "image/webp"}), "kept"),
        "/reset.jpg": (None, "fetch.http_404"),
    }
    routes = {path: route for path, (route, _) in cases.items() if route is not None}
    with StaticServer(routes) as server:
        rows = [{"url": server.url(p), "caption": f"{CAPTION} {i}"} for i, p in enumerate(cases)]
        pq.write_table(pa.Table.from_pylist(rows), tmp_path / "urls.parquet")
        proc = cli("download", "--url-list", str(tmp_path / "urls.parquet"), "--out", str(tmp_path / "ds"),
                   "--allow-private-network", "--no-progress")
        assert proc.returncode == 0, proc.stderr
        streamed = dict(server.streamed)
    rejects = {r["image_url"].rsplit("/", 1)[1]: f"{r['stage']}.{r['reason']}"
               for r in pq.read_table(tmp_path / "ds" / "rejects").to_pylist()}
    kept = {m["image_url"].rsplit("/", 1)[1]: m for m in pq.read_table(tmp_path / "ds" / "metadata").to_pylist()}
    for path, (_, expected) in cases.items():
        name = path[1:]
        assert (name in kept if expected == "kept" else rejects.get(name) == expected), (name, rejects.get(name))
    # the size cap refused the claimed 100 MB from its header and stopped the chunked one early
    assert streamed.get("/huge-claimed.jpg", 0) < 2 * 2**20
    assert streamed.get("/huge-chunked.jpg", 0) < 50 * 2**20  # the cap (20 MB) plus socket buffers
    assert (kept["animated.gif"]["width"], kept["animated.gif"]["height"]) == (256, 256)


def test_sitemap_entity_bomb_is_not_expanded():
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol"}">' for i in range(10))
    xml = (f'<?xml version="1.0"?><!DOCTYPE u [{lol}]><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
           '<url><loc>http://shop.example/p/&l9;.html</loc></url><url><loc>http://shop.example/p/2.html</loc></url>'
           '</urlset>').encode()
    t0 = time.perf_counter()
    locs = []
    try:
        locs.extend(e.loc for e in iter_sitemap(xml))
        raise AssertionError("an entity bomb must be refused")
    except SitemapInvalid as e:
        assert "amplification" in str(e)
    assert time.perf_counter() - t0 < 1 and all(len(u) < 100 for u in locs)


def test_sitemap_gzip_bomb_stops_at_the_cap():
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = b"".join(comp.compress(b" " * 2**20) for _ in range(200)) + comp.flush()  # 200 MB inflated
    assert len(bomb) < 1 << 20
    try:
        inflate(bomb, 64 * 2**20)
        raise AssertionError("not refused")
    except SitemapTooLarge:
        pass


def test_sitemap_of_many_urls_is_streamed():
    n = 300_000
    body = gzip.compress(("<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">" + "".join(
        f"<url><loc>http://shop.example/p/{i}.html</loc><lastmod>2025-01-01</lastmod></url>" for i in range(n))
        + "</urlset>").encode())
    tracemalloc.start()
    count = sum(1 for _ in iter_sitemap(body))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == n
    inflated = len(gzip.decompress(body))
    assert peak < min(inflated / 3, 10 * 2**20)  # a piece at a time: neither the text nor a tree whole


def test_hostile_pages_extract_or_fall_back():
    # invalid JSON-LD: the OpenGraph data on the same page is used
    html = ('<html><head><script type="application/ld+json">{"@type": "Product", "name": "Broken",,}</script>'
            '<meta property="og:title" content="Linen shirt"><meta property="og:image" content="/a.jpg">'
            '</head><body><div><p>unclosed <b>tags<table><tr><td>cell</body>')
    [p] = extract(html, "http://shop.example/p/1.html")
    assert (p.title, p.images) == ("Linen shirt", ["http://shop.example/a.jpg"])
    # unexpected shapes: lists where strings are expected, offers as strings, images as objects
    ld = {"@context": "https://schema.org", "@graph": [{"@type": ["Product", "Thing"], "name": ["Wool hat", "x"],
          "brand": [{"@type": "Brand", "name": "Acme"}], "offers": ["free", {"price": "12.50", "priceCurrency": "EUR"}],
          "image": {"@type": "ImageObject", "contentUrl": ["/h.jpg"]}, "description": None}]}
    [p] = extract(f'<script type="application/ld+json">{json.dumps(ld)}</script>', "http://shop.example/p/2")
    assert (p.title, p.brand, p.price, p.currency, p.images) == ("Wool hat", "Acme", "12.50", "EUR",
                                                                 ["http://shop.example/h.jpg"])
    # deeply nested JSON-LD does not blow the stack
    deep = "[" * 5000 + "]" * 5000
    assert extract(f'<script type="application/ld+json">{deep}</script><h1>x</h1>', "http://s/p") == []
    # invalid UTF-8 and mojibake
    raw = "<html><head><meta charset='utf-8'><meta property='og:title' content='CafÃ© mug \udcff'>".encode(
        "utf-8", "surrogateescape") + b"\xff\xfe<meta property='og:image' content='/m.jpg'></head></html>"
    [p] = extract(raw.decode("utf-8", "replace"), "http://s/p/3")
    assert p.images == ["http://s/m.jpg"]


def test_shop_faults_are_survived_and_counted(tmp_path, cli):
    with ShopThread(DemoShop(products=60, faults=FAULTS)) as shop:
        cfg = site_config(shop.base, tmp_path, **{"fetch.timeout": 1.0, "fetch.retries": 1,
                                                   "site.pagination.max_pages": 3, "site.render": "http",
                                                   "max_error_share": 0.5})
        proc = cli("run", "--site", str(cfg), "--out", str(tmp_path / "ds"), "--no-progress", timeout=240)
        assert proc.returncode == 0, proc.stderr[-2000:]
    run = json.loads((tmp_path / "ds" / "run.json").read_text())
    t = run["totals"]
    for reason in ("fetch.timeout", "fetch.truncated_body", "fetch.connection_error", "fetch.wrong_content_type"):
        assert t["dropped_by_reason"].get(reason, 0) > 0, (reason, t["dropped_by_reason"])
    assert t["pages_failed"].get("redirect_loop", 0) == 1
    assert t["crawler_stats"]["lgs/backoff/429"] > 0 and t["crawler_stats"]["lgs/backoff/503"] > 0
    assert t["crawler_stats"]["lgs/pagination_capped"] > 0
    rejects = pq.read_table(tmp_path / "ds" / "rejects").to_pylist()
    assert t["seen"] == t["kept"] + len(rejects)
    # the 429/503 answers were retried after backing off: those images and pages were not lost
    kept_urls = {m["image_url"] for m in pq.read_table(tmp_path / "ds" / "metadata").to_pylist()}
    assert any("/images/p7-" in u or "/images/p14-" in u for u in kept_urls)


def test_shop_going_down_halfway_exits_1_with_everything_counted(tmp_path, cli):
    with ShopThread(DemoShop(products=60, down_after=40)) as shop:
        cfg = site_config(shop.base, tmp_path, **{"fetch.timeout": 2.0, "fetch.retries": 1, "site.render": "http"})
        proc = cli("run", "--site", str(cfg), "--out", str(tmp_path / "ds"), "--no-progress", timeout=240)
    assert proc.returncode == 1, proc.stderr[-2000:]
    run = json.loads((tmp_path / "ds" / "run.json").read_text())
    assert run["status"] == "too_many_errors" and run["totals"]["error_share"] > 0.2
    assert "pages failed" in proc.stderr
    rejects = pq.read_table(tmp_path / "ds" / "rejects").to_pylist()
    reasons = Counter(r["reason"] for r in rejects)
    assert run["totals"]["seen"] == run["totals"]["kept"] + sum(reasons.values())


def test_rdfa_and_microdata_extracted_only_where_present():
    rdfa = """<html><body vocab="https://schema.org/">
      <script>if (typeof window === "undefined") {}</script>
      <div typeof="Product"><h1 property="name">Linen shirt, sand</h1>
        <img property="image" src="/img/shirt.jpg"><span property="sku">LS-12</span>
        <div property="offers" typeof="Offer"><span property="price">49.90</span>
          <meta property="priceCurrency" content="EUR"></div></div></body></html>"""
    (p,) = extract(rdfa, "http://shop.test/p/shirt.html")
    assert (p.title, p.sku, p.price, p.currency) == ("Linen shirt, sand", "LS-12", "49.90", "EUR")
    assert p.images == ["http://shop.test/img/shirt.jpg"]
    # JavaScript's typeof operator is not RDFa: a page without markup yields nothing, cheaply
    assert extract("<html><script>typeof x</script><p>hello</p></html>", "http://shop.test/") == []
