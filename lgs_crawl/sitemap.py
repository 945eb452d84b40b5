"""Sitemaps, read safely: streamed (iterparse, elements cleared as they go), no entities, no network,
gzip inflated with a hard cap. A sitemap of millions of URLs never becomes a tree in memory, an XML
entity bomb expands nothing, and a gzip bomb stops at the cap."""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree


class SitemapTooLarge(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class SitemapEntry:
    kind: str  # "sitemap" (an index entry) or "url"
    loc: str
    lastmod: str = ""


def inflate(body: bytes, max_bytes: int) -> bytes:
    """Gunzip when the body is gzip (by magic bytes), refusing to produce more than max_bytes."""
    if body[:2] != b"\x1f\x8b":
        if len(body) > max_bytes:
            raise SitemapTooLarge(f"{len(body)} bytes > {max_bytes}")
        return body
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = d.decompress(body, max_bytes + 1)
    if len(out) > max_bytes or d.unconsumed_tail:
        raise SitemapTooLarge(f"inflates past {max_bytes} bytes")
    return out


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def iter_sitemap(body: bytes, max_bytes: int = 64 * 1024 * 1024, max_entries: int = 5_000_000
                 ) -> Iterator[SitemapEntry]:
    data = inflate(body, max_bytes)
    parser_events = etree.iterparse(
        io.BytesIO(data), events=("end",), resolve_entities=False, no_network=True, huge_tree=False,
        load_dtd=False, remove_comments=True, recover=True)
    n = 0
    try:
        for _, el in parser_events:
            name = _local(el.tag)
            if name in ("url", "sitemap"):
                loc = lastmod = ""
                for child in el:
                    cname = _local(child.tag)
                    if cname == "loc":
                        loc = (child.text or "").strip()
                    elif cname == "lastmod":
                        lastmod = (child.text or "").strip()
                if loc:
                    yield SitemapEntry("sitemap" if name == "sitemap" else "url", loc, lastmod)
                    n += 1
                    if n >= max_entries:
                        return
                el.clear()
                parent = el.getparent()
                while parent is not None and el.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError:
        return
