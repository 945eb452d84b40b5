"""Caption quality: normalise the caption, then drop ones too short, boilerplate, repetitive or garbled.

Defaults follow DataComp's basic filter (captions of more than 2 words and more than 5 characters).
"""

from __future__ import annotations

import html
import re
import unicodedata

import ftfy
from pydantic import Field
from w3lib.html import remove_tags, remove_tags_with_content, replace_entities

from lgs_crawl.filters import Drop, Filter, FilterParams

_WS = re.compile(r"\s+")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.I)
_WORD = re.compile(r"\w+", re.U)
_TEMPLATE_JUNK = re.compile(r"\{\{.*?\}\}|\$\{.*?\}|<%.*?%>|\[object Object\]|\bundefined\b|\bnull\b")
BOILERPLATE = (
    "add to cart", "add to bag", "add to basket", "buy now", "click here", "shop now", "in stock",
    "out of stock", "sold out", "free shipping", "read more", "learn more", "quick view", "loading",
    "javascript is disabled", "enable javascript", "page not found", "404", "no description",
    "description", "product description", "image", "photo", "untitled", "product", "new", "sale",
    "default title", "title", "item",
)


_FTFY = ftfy.TextFixerConfig(normalization="NFC", explain=False)


def normalise(text: str, plain: bool = False) -> str:
    """HTML tags and entities out, mojibake repaired, Unicode composed, whitespace collapsed.

    Fast paths (``plain=False``) skip work that cannot change the result: ftfy on ASCII text without
    terminal escapes (ASCII cannot hold mojibake; its line-break and control-character fixes are
    undone by the steps below anyway), and the control-character pass on printable text. A test
    checks both paths agree."""
    if "<" in text:
        text = remove_tags(remove_tags_with_content(text, ("script", "style")))
    if "&" in text:
        text = replace_entities(html.unescape(text))
    if plain or not text.isascii() or "\x1b" in text:
        text = ftfy.fix_text(text, _FTFY)
    if plain or not text.isprintable():
        text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\n\t\r")
    return _WS.sub(" ", text).strip()


class CaptionQuality(Filter):
    name = "caption_quality"
    stage = "text"

    class Params(FilterParams):
        min_words: int = Field(3, ge=0, description="DataComp: more than 2 words")
        min_chars: int = Field(6, ge=0, description="DataComp: more than 5 characters")
        max_words: int = Field(4000, ge=1, description="LGS's longest caption has 3642 words")
        max_chars: int = Field(30000, ge=1)
        min_alpha_ratio: float = Field(0.5, ge=0, le=1, description="letters among non-space characters")
        max_repetition: float = Field(0.5, ge=0, le=1, description="share of the most common word "
                                      "(captions of 8+ words)")
        boilerplate: list[str] = Field(default_factory=lambda: list(BOILERPLATE))

    def __init__(self, params: FilterParams | None = None) -> None:
        super().__init__(params)
        self._boilerplate = {b.lower() for b in self.params.boilerplate}

    def check(self, record):  # type: ignore[override]
        p = self.params
        raw = record.caption
        caption = normalise(raw)
        record.caption = caption
        for variant, text in list(record.captions.items()):
            record.captions[variant] = normalise(text)
        if not caption:
            return Drop("empty_caption", "markup only" if raw.strip() else "")
        if "\ufffd" in caption:
            return Drop("mojibake", caption[:80])
        if _TEMPLATE_JUNK.search(caption):
            return Drop("markup", _TEMPLATE_JUNK.search(caption).group(0)[:80])
        without_urls = _URL.sub(" ", caption).strip(" .,-|:;")
        if not without_urls:
            return Drop("boilerplate", "URLs only")
        bare = _WS.sub(" ", re.sub(r"[^\w\s]", " ", without_urls.lower())).strip()
        if bare in self._boilerplate or all(part.strip() in self._boilerplate
                                            for part in re.split(r"[.|,;:!-]+", without_urls.lower())
                                            if part.strip()):
            return Drop("boilerplate", caption[:80])
        words = _WORD.findall(caption)
        if len(words) < p.min_words:
            return Drop("too_few_words", f"{len(words)} < {p.min_words}")
        if len(caption) < p.min_chars:
            return Drop("too_short", f"{len(caption)} < {p.min_chars} chars")
        if len(words) > p.max_words:
            return Drop("too_long", f"{len(words)} > {p.max_words} words")
        if len(caption) > p.max_chars:
            return Drop("too_long", f"{len(caption)} > {p.max_chars} chars")
        visible = len(caption) - sum(map(str.isspace, caption))
        alpha = sum(map(str.isalpha, caption)) / visible
        if alpha < p.min_alpha_ratio:
            return Drop("low_alpha", f"{alpha:.2f} < {p.min_alpha_ratio}")
        if len(words) >= 8:
            counts: dict[str, int] = {}
            for w in words:
                lw = w.lower()
                counts[lw] = counts.get(lw, 0) + 1
            top = max(counts.values()) / len(words)
            if top > p.max_repetition:
                return Drop("repetitive", f"{top:.2f} > {p.max_repetition}")
        return None
