"""HTML for the demo shop: product pages in six markup styles, category pages, sitemaps, robots.txt."""

from __future__ import annotations

import json
from html import escape

from lgs_crawl.demo.catalogue import Catalogue, ImageSpec, Product, format_price, slugify

PER_PAGE = 12
TRACKING = "utm_source=demo&utm_medium=gallery"


def _layout(title: str, body: str, head: str = "", lang: str = "en") -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            f"{head}</head><body><header><a href=\"/\">Demo Shop</a></header>{body}"
            "<footer><a href=\"/about.html\">About</a></footer></body></html>")


def _crumbs_html(p: Product) -> str:
    links = [("/", "Home"), (f"/c/{slugify(p.top)}", p.top), (p.category_path, p.leaf)]
    return "<nav class=\"crumbs\">" + " &gt; ".join(f"<a href=\"{u}\">{escape(n)}</a>" for u, n in links) + "</nav>"


def _gallery(images: list[ImageSpec]) -> str:
    """Images as real shops mark them up: srcset (largest wins), lazy-load data-src, tracking params."""
    out = []
    for k, im in enumerate(images):
        if k % 2 == 0:
            out.append(f"<img class=\"gallery-img\" src=\"{im.path}?w=200&amp;{TRACKING}\" "
                       f"srcset=\"{im.path}?w=200 200w, {im.path}?w=400&amp;{TRACKING} 400w, "
                       f"{im.path} {max(im.width, 401)}w\" alt=\"\">")
        else:
            out.append(f"<img class=\"gallery-img lazy\" src=\"/static/placeholder.gif\" "
                       f"data-src=\"{im.path}?{TRACKING}#zoom\" alt=\"\">")
    return "<div class=\"gallery\">" + "".join(out) + "</div>"


def _plain_body(p: Product) -> str:
    v = p.variants[0]
    desc = escape(p.description).replace("\n", "<br>")
    return (f"{_crumbs_html(p)}<main class=\"product\"><h1 class=\"product-title\">{escape(v.title)}</h1>"
            f"<span class=\"brand\">{escape(p.brand)}</span>"
            f"<span class=\"price\">{escape(format_price(v.price, p.currency))}</span>"
            f"<span class=\"sku\">{v.sku}</span><span class=\"gtin\">{v.gtin}</span>"
            f"{_gallery(v.images)}<div class=\"desc\">{desc}</div>"
            "<button>Add to cart</button></main>")


def _abs(base: str, path: str) -> str:
    return base + path


def _offer(price: float, currency: str, kind: int) -> dict:
    if kind == 0:
        return {"@type": "Offer", "price": f"{price:.2f}", "priceCurrency": currency,
                "availability": "https://schema.org/InStock"}
    if kind == 1:
        return {"@type": "AggregateOffer", "lowPrice": price, "highPrice": round(price * 1.2, 2),
                "priceCurrency": currency, "offerCount": 3}
    return {"@type": "Offer", "priceSpecification": {"@type": "UnitPriceSpecification", "price": price,
                                                     "priceCurrency": currency}}


def _image_ld(base: str, images: list[ImageSpec], kind: int) -> object:
    urls = [_abs(base, im.path) for im in images]
    if kind == 0:
        return urls[0] if len(urls) == 1 else urls
    if kind == 1:
        return [{"@type": "ImageObject", "url": u, "width": im.width} for u, im in zip(urls, images)]
    return [{"@type": "ImageObject", "contentUrl": u} for u in urls]


def _breadcrumb_ld(base: str, p: Product) -> dict:
    items = [("/", "Home"), (f"/c/{slugify(p.top)}", p.top), (p.category_path, p.leaf)]
    return {"@context": "https://schema.org", "@type": "BreadcrumbList", "itemListElement": [
        {"@type": "ListItem", "position": n + 1, "name": name, "item": _abs(base, u)}
        for n, (u, name) in enumerate(items)]}


def product_page(cat: Catalogue, p: Product, base: str) -> str:
    v = p.variants[0]
    kind = p.index % 3
    if p.style == "jsonld":
        ld = {"@context": "https://schema.org", "@type": "Product", "name": v.title, "description": p.description,
              "sku": v.sku, "gtin13": v.gtin, "image": _image_ld(base, v.images, kind),
              "brand": {"@type": "Brand", "name": p.brand} if kind != 1 else p.brand,
              "offers": _offer(v.price, p.currency, kind)}
        # breadcrumbs in a @graph on some pages, in their own script on others
        if kind == 2:
            scripts = [{"@context": "https://schema.org", "@graph": [ld, _breadcrumb_ld(base, p)]}]
        else:
            scripts = [ld, _breadcrumb_ld(base, p)]
        head = "".join(f"<script type=\"application/ld+json\">{json.dumps(s)}</script>" for s in scripts)
        return _layout(v.title, _plain_body(p).replace("class=\"product-title\"", "class=\"t\""), head, p.lang)
    if p.style == "productgroup":
        group = {"@context": "https://schema.org", "@type": "ProductGroup", "name": p.title,
                 "description": p.description, "brand": {"@type": "Brand", "name": p.brand},
                 "productGroupID": f"G{p.index}", "variesBy": ["https://schema.org/color"],
                 "hasVariant": [{"@type": "Product", "name": var.title, "sku": var.sku, "gtin13": var.gtin,
                                 "image": _abs(base, var.images[0].path),
                                 "offers": {"@type": "Offer", "price": var.price, "priceCurrency": p.currency}}
                                for var in p.variants]}
        head = (f"<script type=\"application/ld+json\">{json.dumps(group)}</script>"
                f"<script type=\"application/ld+json\">{json.dumps(_breadcrumb_ld(base, p))}</script>")
        return _layout(p.title, _plain_body(p), head, p.lang)
    if p.style == "microdata":
        imgs = "".join(f"<img itemprop=\"image\" src=\"{im.path}\" alt=\"\">" for im in v.images)
        crumbs = "".join(
            f"<li itemprop=\"itemListElement\" itemscope itemtype=\"https://schema.org/ListItem\">"
            f"<a itemprop=\"item\" href=\"{u}\"><span itemprop=\"name\">{escape(n)}</span></a>"
            f"<meta itemprop=\"position\" content=\"{k + 1}\"></li>"
            for k, (u, n) in enumerate([("/", "Home"), (f"/c/{slugify(p.top)}", p.top), (p.category_path, p.leaf)]))
        body = (f"<ol itemscope itemtype=\"https://schema.org/BreadcrumbList\">{crumbs}</ol>"
                f"<div itemscope itemtype=\"https://schema.org/Product\">"
                f"<h1 itemprop=\"name\">{escape(v.title)}</h1>{imgs}"
                f"<div itemprop=\"brand\" itemscope itemtype=\"https://schema.org/Brand\">"
                f"<span itemprop=\"name\">{escape(p.brand)}</span></div>"
                f"<p itemprop=\"description\">{escape(p.description)}</p>"
                f"<meta itemprop=\"sku\" content=\"{v.sku}\"><meta itemprop=\"gtin13\" content=\"{v.gtin}\">"
                f"<div itemprop=\"offers\" itemscope itemtype=\"https://schema.org/Offer\">"
                f"<span>{escape(format_price(v.price, p.currency))}</span>"
                f"<meta itemprop=\"price\" content=\"{v.price:.2f}\">"
                f"<meta itemprop=\"priceCurrency\" content=\"{p.currency}\"></div></div>")
        return _layout(v.title, body, "", p.lang)
    if p.style == "opengraph":
        metas = [("og:type", "product"), ("og:title", v.title), ("og:description", p.description),
                 *[("og:image", _abs(base, im.path)) for im in v.images],
                 ("product:brand", p.brand), ("product:price:amount", f"{v.price:.2f}"),
                 ("product:price:currency", p.currency), ("product:retailer_item_id", v.sku)]
        head = "".join(f"<meta property=\"{k}\" content=\"{escape(val)}\">" for k, val in metas)
        body = (f"{_crumbs_html(p)}<main><h2>{escape(v.title)}</h2>"
                f"<p>{escape(p.description)}</p></main>")
        return _layout(v.title, body, head, p.lang)
    if p.style == "selectors":
        return _layout(v.title, _plain_body(p), "", p.lang)
    # js: the page is built in the browser from inline data; no structured data, no product markup
    data = {"title": v.title, "brand": p.brand, "price": format_price(v.price, p.currency),
            "sku": v.sku, "gtin": v.gtin, "description": p.description,
            "crumbs": [["/", "Home"], [f"/c/{slugify(p.top)}", p.top], [p.category_path, p.leaf]],
            "images": [im.path for im in v.images]}
    body = (f"<div id=\"app\">Loading…</div><script>window.__PRODUCT__ = {json.dumps(data)};</script>"
            "<script src=\"/static/app.js\"></script>")
    return _layout("Demo Shop", body, "", p.lang)


APP_JS = r"""
(function () {
  var d = window.__PRODUCT__, esc = function (s) {
    return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  };
  var crumbs = d.crumbs.map(function (c) { return '<a href="' + c[0] + '">' + esc(c[1]) + '</a>'; }).join(' &gt; ');
  var imgs = d.images.map(function (p) {
    return '<img class="gallery-img" src="' + p + '?w=200" srcset="' + p + '?w=200 200w, ' + p + ' 1200w">';
  }).join('');
  document.getElementById('app').innerHTML =
    '<nav class="crumbs">' + crumbs + '</nav><main class="product"><h1 class="product-title">' + esc(d.title) +
    '</h1><span class="brand">' + esc(d.brand) + '</span><span class="price">' + esc(d.price) + '</span>' +
    '<span class="sku">' + d.sku + '</span><span class="gtin">' + d.gtin + '</span>' +
    '<div class="gallery">' + imgs + '</div><div class="desc">' + esc(d.description) + '</div></main>';
  document.title = d.title;
})();
"""


def category_page(cat: Catalogue, top: str, leaf: str, page: int, trap: bool = False) -> tuple[str, int]:
    """(html, number of pages). Links to products, a 'next' link, and a link into a Disallowed area."""
    items = cat.in_category(top, leaf)
    pages = max(1, -(-len(items) // PER_PAGE))
    chunk = items[(page - 1) * PER_PAGE: page * PER_PAGE]
    links = "".join(f"<li><a class=\"product-link\" href=\"{p.path}\">{escape(p.title)}</a></li>" for p in chunk)
    nav = ""
    base = f"/c/{slugify(top)}/{slugify(leaf)}"
    if page > 1:
        nav += f"<a rel=\"prev\" href=\"{base}?page={page - 1}\">Previous</a>"
    if page < pages or trap:
        nav += f"<a rel=\"next\" href=\"{base}?page={page + 1}\">Next</a>"
    body = (f"<h1>{escape(leaf)}</h1><ul class=\"listing\">{links}</ul><div class=\"pager\">{nav}</div>"
            f"<a href=\"/private/p/staff-only-{slugify(leaf)}.html\">Staff</a>")
    return _layout(leaf, body), pages


def home_page(cat: Catalogue) -> str:
    body = "<ul class=\"menu\">" + "".join(
        f"<li><a href=\"/c/{slugify(t)}/{slugify(leaf)}\">{escape(t)} / {escape(leaf)}</a></li>"
        for t, leaf in cat.leaves()) + "</ul>"
    return _layout("Demo Shop", body)


def top_page(cat: Catalogue, top: str) -> str:
    leaves = [leaf for t, leaf in cat.leaves() if t == top]
    body = "<ul>" + "".join(f"<li><a href=\"/c/{slugify(top)}/{slugify(leaf)}\">{escape(leaf)}</a></li>"
                            for leaf in leaves) + "</ul>"
    return _layout(top, body)


def robots_txt(base: str, crawl_delay: float) -> str:
    lines = ["User-agent: *", "Disallow: /private/"]
    if crawl_delay > 0:
        lines.append(f"Crawl-delay: {crawl_delay:g}")
    lines += ["", "User-agent: badbot", "Disallow: /", "", f"Sitemap: {base}/sitemap_index.xml", ""]
    return "\n".join(lines)


def sitemap_index(base: str) -> str:
    maps = ["/sitemaps/products-1.xml.gz", "/sitemaps/products-2.xml", "/sitemaps/categories.xml"]
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">"
            + "".join(f"<sitemap><loc>{base}{m}</loc></sitemap>" for m in maps) + "</sitemapindex>")


def urlset(entries: list[tuple[str, str]]) -> str:
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">"
            + "".join(f"<url><loc>{escape(u)}</loc>" + (f"<lastmod>{lm}</lastmod>" if lm else "") + "</url>"
                      for u, lm in entries) + "</urlset>")


def product_sitemap(cat: Catalogue, base: str, part: int) -> str:
    listed = [p for p in cat.products if p.in_sitemap]
    half = len(listed) // 2
    chosen = listed[:half] if part == 1 else listed[half:]
    return urlset([(base + p.path, p.lastmod) for p in chosen])


def category_sitemap(cat: Catalogue, base: str) -> str:
    return urlset([(f"{base}/c/{slugify(t)}/{slugify(leaf)}", "") for t, leaf in cat.leaves()])
