"""Sitemaps, read safely: streamed (iterparse, elements cleared as they go), no entities, no network,
gzip inflated with a hard cap. A sitemap of millions of URLs never becomes a tree in memory, an XML
entity bomb expands nothing, and a gzip bomb stops at the cap."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree


class SitemapTooLarge(ValueError):
    pass


class SitemapInvalid(ValueError):
    """Not well-formed, or refused by libxml2's guards (entity amplification, huge nodes)."""


@dataclass(frozen=True, slots=True)
class SitemapEntry:
    kind: str  # "sitemap" (an index entry) or "url"
    loc: str
    lastmod: str = ""


CHUNK = 1 << 20


def inflate_chunks(body: bytes, max_bytes: int) -> Iterator[bytes]:
    """The body in pieces, gunzipped on the fly when it is gzip (by magic bytes); more than max_bytes
    of output raises SitemapTooLarge."""
    if body[:2] != b"\x1f\x8b":
        if len(body) > max_bytes:
            raise SitemapTooLarge(f"{len(body)} bytes > {max_bytes}")
        for i in range(0, len(body), CHUNK):
            yield body[i:i + CHUNK]
        return
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    pending, total = body, 0
    while pending and not d.eof:
        out = d.decompress(pending, CHUNK)
        pending = d.unconsumed_tail
        total += len(out)
        if total > max_bytes:
            raise SitemapTooLarge(f"inflates past {max_bytes} bytes")
        if out:
            yield out
        elif not pending:
            break
    tail = d.flush()
    if total + len(tail) > max_bytes:
        raise SitemapTooLarge(f"inflates past {max_bytes} bytes")
    if tail:
        yield tail


def inflate(body: bytes, max_bytes: int) -> bytes:
    return b"".join(inflate_chunks(body, max_bytes))


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _entries(events: Iterator[tuple[str, object]]) -> Iterator[SitemapEntry]:
    for _, el in events:
        name = _local(el.tag)
        if name not in ("url", "sitemap"):
            continue
        loc = lastmod = ""
        for child in el:
            cname = _local(child.tag)
            if cname == "loc":
                loc = (child.text or "").strip()
            elif cname == "lastmod":
                lastmod = (child.text or "").strip()
        # drop what has been read: memory stays flat however long the sitemap is
        el.clear()
        parent = el.getparent()
        while parent is not None and el.getprevious() is not None:
            del parent[0]
        if loc:
            yield SitemapEntry("sitemap" if name == "sitemap" else "url", loc, lastmod)


def iter_sitemap(body: bytes, max_bytes: int = 64 * 1024 * 1024, max_entries: int = 5_000_000
                 ) -> Iterator[SitemapEntry]:
    parser = etree.XMLPullParser(events=("end",), resolve_entities=False, no_network=True, huge_tree=False,
                                 load_dtd=False, remove_comments=True)
    n = 0
    try:
        for chunk in inflate_chunks(body, max_bytes):
            parser.feed(chunk)
            for entry in _entries(parser.read_events()):
                yield entry
                n += 1
                if n >= max_entries:
                    return
        parser.close()
        for entry in _entries(parser.read_events()):
            yield entry
    except etree.XMLSyntaxError as e:
        raise SitemapInvalid(str(e)[:200]) from None
