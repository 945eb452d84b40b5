"""Captions from product fields: a configurable template, plus LGS's caption variants for KEY.json."""

from __future__ import annotations

import re
import string

from lgs_crawl.record import Record

_BULLET = re.compile(r"(?:^|\n)\s*(?:[-*•·]|\d+[.)])\s+(.+)")


def _fields(rec: Record) -> dict[str, str]:
    return {
        "title": rec.title, "description": rec.description, "brand": rec.brand,
        "category": rec.breadcrumbs[-1] if rec.breadcrumbs else "",
        "breadcrumbs": " > ".join(rec.breadcrumbs), "caption": rec.caption,
        "price": "" if rec.price is None else f"{rec.price:g}", "currency": rec.currency,
        "sku": rec.sku, "gtin": rec.gtin, "site": rec.site,
    }


def render_caption(rec: Record, template: str) -> str:
    """Fill the template; separators next to empty fields are dropped ('{title}. {description}' with
    no description gives just the title)."""
    values = _fields(rec)
    parts: list[str] = []
    pending_literal = ""
    for literal, field, _, _ in string.Formatter().parse(template):
        pending_literal += literal
        if field is None:
            continue
        value = values.get(field, "").strip()
        if value:
            parts.append((pending_literal if parts else pending_literal.lstrip(" .,;:-|")) + value)
        pending_literal = ""
    return "".join(parts).strip()


def caption_variants(rec: Record) -> dict[str, str]:
    """LGS's variants: title + brand, description bullet points, category path."""
    out = {}
    if rec.title:
        out["title_brand"] = f"{rec.title} by {rec.brand}" if rec.brand and rec.brand.lower() not in \
            rec.title.lower() else rec.title
    bullets = [m.group(1).strip() for m in _BULLET.finditer(rec.description)]
    if bullets:
        out["bullets"] = "; ".join(bullets)
    if rec.breadcrumbs:
        out["category_path"] = " > ".join(rec.breadcrumbs)
    return out
