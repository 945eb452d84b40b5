"""Product extraction from one HTML page, merged field by field in this order:
schema.org JSON-LD, microdata/RDFa (both parsed by extruct), OpenGraph, then the config's selectors.

A page yields one product per schema.org Product, and one per variant of a ProductGroup.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from parsel import Selector

LIST_FIELDS = ("images", "breadcrumbs")
TEXT_FIELDS = ("title", "description", "brand", "price", "currency", "sku", "gtin")
TRACKING = re.compile(r"^(utm_\w+|gclid|fbclid|msclkid|mc_cid|mc_eid|_ga|_gl|spm|ref|ref_src|igshid|yclid)$", re.I)
LAZY_ATTRS = ("data-zoom-image", "data-large-image", "data-full", "data-original", "data-src", "data-lazy-src",
              "data-lazy", "data-srcset", "srcset", "src")


@dataclass
class Product:
    title: str = ""
    description: str = ""
    brand: str = ""
    price: str = ""  # as text: numbers from structured data, "1.299,00 €" from selectors
    currency: str = ""
    sku: str = ""
    gtin: str = ""
    images: list[str] = field(default_factory=list)
    breadcrumbs: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # field -> where it came from

    def fill(self, other: dict[str, Any], source: str) -> None:
        """Take the fields this product still lacks from a lower-priority source."""
        for name in TEXT_FIELDS:
            value = other.get(name)
            if not getattr(self, name) and value not in (None, "", []):
                setattr(self, name, _text(value, keep_lines=name == "description"))
                self.sources[name] = source
        for name in LIST_FIELDS:
            value = other.get(name) or []
            if not getattr(self, name) and value:
                setattr(self, name, list(value))
                self.sources[name] = source

    @property
    def has_data(self) -> bool:
        return bool(self.title and self.images)


def canonical_url(url: str, base: str) -> str:
    """Absolute, without tracking parameters and fragment."""
    url = urljoin(base, url.strip())
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING.match(k)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def largest_srcset(srcset: str) -> str:
    """The candidate with the largest width (w) or density (x) descriptor."""
    best, best_size = "", -1.0
    for candidate in re.split(r",\s+(?=\S)", srcset.strip()):
        bits = candidate.strip().split()
        if not bits:
            continue
        size = 1.0
        if len(bits) > 1:
            m = re.match(r"^([\d.]+)([wx])$", bits[1])
            if m:
                size = float(m.group(1)) * (1 if m.group(2) == "w" else 10000)
        if size > best_size:
            best, best_size = bits[0], size
    return best


def image_from_element(el: Selector) -> str:
    """Best URL of an <img>/<source>/<a>: largest srcset candidate, lazy-load attributes, then src."""
    for attr in LAZY_ATTRS:
        value = (el.attrib.get(attr) or "").strip()
        if not value or value.startswith("data:"):
            continue
        if "srcset" in attr:
            value = largest_srcset(value)
        if value and not re.search(r"placeholder|blank\.gif|spacer", value, re.I):
            return value
    return (el.attrib.get("href") or "").strip()


def _text(value: Any, keep_lines: bool = False) -> str:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value") or value.get("value") or ""
    if keep_lines:  # descriptions keep their line breaks: bullet points become a caption variant
        lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in str(value).splitlines())
        return "\n".join(line for line in lines if line)
    return re.sub(r"\s+", " ", str(value)).strip()


def _types(node: dict[str, Any]) -> set[str]:
    t = node.get("@type") or node.get("type") or []
    if isinstance(t, str):
        t = [t]
    return {str(x).rsplit("/", 1)[-1] for x in t if x}


def _walk(node: Any) -> list[dict[str, Any]]:
    """Every dict in a JSON-LD document (through @graph, lists, and nesting)."""
    out: list[dict[str, Any]] = []
    stack = [node]
    while stack and len(out) < 10_000:
        cur = stack.pop()
        if isinstance(cur, dict):
            out.append(cur)
            stack.extend(v for v in cur.values() if isinstance(v, (dict, list)))
        elif isinstance(cur, list):
            stack.extend(cur)
    return out[::-1]


def _images(value: Any, base: str) -> list[str]:
    urls: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str):
            urls.append(item)
        elif isinstance(item, dict):
            u = item.get("contentUrl") or item.get("url") or item.get("@id")
            if isinstance(u, list):
                u = u[0] if u else None
            if isinstance(u, str):
                urls.append(u)
    return [canonical_url(u, base) for u in urls if u and not u.startswith("data:")]


def _offer_price(offers: Any) -> tuple[str, str]:
    """(price, currency) from Offer, AggregateOffer (lowPrice) or priceSpecification, list or single."""
    for offer in offers if isinstance(offers, list) else [offers]:
        if not isinstance(offer, dict):
            continue
        currency = _text(offer.get("priceCurrency", ""))
        for key in ("price", "lowPrice"):
            if offer.get(key) not in (None, ""):
                return _text(offer[key]), currency
        spec = offer.get("priceSpecification")
        for s in spec if isinstance(spec, list) else [spec]:
            if isinstance(s, dict) and s.get("price") not in (None, ""):
                return _text(s["price"]), _text(s.get("priceCurrency", currency))
        if isinstance(offer.get("offers"), (list, dict)):
            nested = _offer_price(offer["offers"])
            if nested[0]:
                return nested
    return "", ""


def _gtin(node: dict[str, Any]) -> str:
    for key in ("gtin13", "gtin", "gtin14", "gtin12", "gtin8", "ean", "isbn"):
        if node.get(key):
            return _text(node[key])
    return ""


def _from_schema_product(node: dict[str, Any], base: str) -> dict[str, Any]:
    price, currency = _offer_price(node.get("offers"))
    brand = node.get("brand") or node.get("manufacturer") or ""
    return {"title": _text(node.get("name", "")), "description": _text(node.get("description", "")),
            "brand": _text(brand), "price": price, "currency": currency, "sku": _text(node.get("sku", "")),
            "gtin": _gtin(node), "images": _images(node.get("image") or [], base)}


def _breadcrumbs(nodes: list[dict[str, Any]]) -> list[str]:
    for node in nodes:
        if "BreadcrumbList" not in _types(node):
            continue
        items = node.get("itemListElement") or []
        items = [i for i in (items if isinstance(items, list) else [items]) if isinstance(i, dict)]

        def pos(i: dict[str, Any]) -> float:
            try:
                return float(i.get("position", 0))
            except (TypeError, ValueError):
                return 0.0

        names = []
        for item in sorted(items, key=pos):
            name = item.get("name")
            inner = item.get("item")
            if not name and isinstance(inner, dict):
                name = inner.get("name")
            if name:
                names.append(_text(name))
        if names:
            return names
    return []


def _schema_products(nodes: list[dict[str, Any]], base: str) -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = []
    variant_ids = set()
    for node in nodes:
        types = _types(node)
        if "ProductGroup" in types:
            group = _from_schema_product(node, base)
            variants = node.get("hasVariant") or []
            variants = [v for v in (variants if isinstance(variants, list) else [variants]) if isinstance(v, dict)]
            for v in variants:
                variant_ids.add(id(v))
                own = _from_schema_product(v, base)
                merged = {k: own[k] or group[k] for k in own}
                products.append(merged)
            if not variants:
                products.append(group)
    for node in nodes:
        if "Product" in _types(node) and id(node) not in variant_ids and "ProductGroup" not in _types(node):
            products.append(_from_schema_product(node, base))
    return [p for p in products if p["title"] or p["images"]]


def _jsonld_nodes(sel: Selector) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    for raw in sel.css('script[type="application/ld+json"]::text').getall()[:50]:
        try:
            doc = json.loads(raw.strip().rstrip(";"), strict=False)
        except (ValueError, RecursionError):
            continue  # invalid JSON-LD is common; the next source fills in
        nodes.extend(_walk(doc))
    return nodes


_MICRODATA = re.compile(r"\sitemscope[\s>=/]", re.I)
_RDFA = re.compile(r"\stypeof\s*=", re.I)  # the attribute, not JavaScript's typeof operator


def _microdata_nodes(html: str, base: str) -> list[dict[str, Any]]:
    # only the syntaxes the page uses: RDFa parsing alone costs ~11 ms a page
    syntaxes = [name for name, marker in (("microdata", _MICRODATA), ("rdfa", _RDFA)) if marker.search(html)]
    if not syntaxes:
        return []
    import extruct

    try:
        data = extruct.extract(html, base_url=base, syntaxes=syntaxes, uniform=True, errors="ignore")
    except Exception:  # extruct/lxml can fail on hostile markup; microdata is optional
        return []
    nodes: list[dict[str, Any]] = []
    for item in data.get("microdata") or []:
        nodes.extend(_walk(item))
    for item in _compact_rdfa(data.get("rdfa") or []):
        nodes.extend(_walk(item))
    return nodes


def _short(iri: str) -> str:
    for prefix in ("https://schema.org/", "http://schema.org/"):
        if iri.startswith(prefix):
            return iri[len(prefix):]
    return iri


def _compact_rdfa(graph: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """extruct's RDFa is a flat expanded graph (full IRIs, values in [{"@value": ...}], nodes linked by
    blank-node ids); the product reader wants compact nested JSON-LD, as on JSON-LD pages."""
    by_id = {n.get("@id"): n for n in graph if isinstance(n, dict)}
    linked = {v.get("@id") for n in by_id.values() for vs in n.values() if isinstance(vs, list)
              for v in vs if isinstance(v, dict) and "@id" in v and v["@id"] in by_id}

    def compact(node: dict[str, Any], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {"@type": [_short(t) for t in node.get("@type", [])]}
        for key, values in node.items():
            if key.startswith("@") or not isinstance(values, list):
                continue
            items = []
            for v in values:
                if isinstance(v, dict) and "@value" in v:
                    items.append(v["@value"])
                elif isinstance(v, dict) and v.get("@id") in by_id and depth < 5:
                    items.append(compact(by_id[v["@id"]], depth + 1))
                elif isinstance(v, dict) and "@id" in v:
                    items.append(v["@id"])
            out[_short(key)] = items[0] if len(items) == 1 else items
        return out

    return [compact(n, 0) for i, n in by_id.items() if i not in linked and n.get("@type")]


def _opengraph(sel: Selector, base: str) -> dict[str, Any]:
    def meta(prop: str) -> list[str]:
        return [v.strip() for v in sel.xpath(f'//meta[@property="{prop}" or @name="{prop}"]/@content').getall()
                if v.strip()]

    def first(*props: str) -> str:
        for p in props:
            values = meta(p)
            if values:
                return values[0]
        return ""

    images = meta("og:image") + meta("og:image:url") + meta("og:image:secure_url")
    seen: dict[str, None] = {}
    for u in images:
        seen.setdefault(canonical_url(u, base))
    return {"title": first("og:title"), "description": first("og:description"),
            "brand": first("product:brand", "og:brand"),
            "price": first("product:price:amount", "og:price:amount"),
            "currency": first("product:price:currency", "og:price:currency"),
            "sku": first("product:retailer_item_id"), "images": list(seen)}


def select(sel: Selector, query: str) -> Any:
    return sel.xpath(query) if query.lstrip().startswith(("/", "(")) else sel.css(query)


def _selectors(sel: Selector, selectors: dict[str, str], base: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, query in selectors.items():
        found = select(sel, query)
        if name == "images":
            urls = []
            for item in found:
                if isinstance(item.root, str):
                    value = item.root.strip()
                    if "," in value and re.search(r"\s\d+[wx]\b", value):
                        value = largest_srcset(value)
                else:
                    value = image_from_element(item)
                if value and not value.startswith("data:"):
                    urls.append(canonical_url(value, base))
            out[name] = urls
        elif name == "breadcrumbs":
            out[name] = [t for t in (re.sub(r"\s+", " ", x).strip() for x in found.getall()) if t]
        else:
            parts = [x.strip() for x in found.getall() if x.strip()]
            sep = "\n" if name == "description" else " "
            out[name] = sep.join(parts)
    return out


def extract(html: str, url: str, selectors: dict[str, str] | None = None) -> list[Product]:
    """Products on the page (empty when it has none), fields merged in priority order."""
    sel = Selector(text=html, base_url=url)
    base_href = sel.css("base::attr(href)").get()
    base = urljoin(url, base_href) if base_href else url
    ld_nodes = _jsonld_nodes(sel)
    md_nodes = _microdata_nodes(html, base)
    md_products = _schema_products(md_nodes, base)
    found, source = _schema_products(ld_nodes, base), "json-ld"
    if not found:
        found, source = md_products, "microdata"
    og = _opengraph(sel, base)
    picked = _selectors(sel, selectors or {}, base)
    crumbs = _breadcrumbs(ld_nodes) or _breadcrumbs(md_nodes)
    products: list[Product] = []
    for data in found or [{}]:
        p = Product()
        p.fill(data, source)
        if source == "json-ld" and md_products:
            p.fill(md_products[0], "microdata")
        if len(found) <= 1:  # page-level sources describe the page's one product, not each variant
            p.fill(og, "opengraph")
        p.fill({"breadcrumbs": crumbs}, "schema.org")
        p.fill(picked, "selectors")
        products.append(p)
    products = [p for p in products if p.title or p.images]
    for p in products:
        p.images = list(dict.fromkeys(p.images))
        if p.breadcrumbs:
            p.breadcrumbs = [b for b in p.breadcrumbs if b]
    return products
