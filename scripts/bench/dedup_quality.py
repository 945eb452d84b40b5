"""Near-duplicate detection quality of the dedup filter (phash <= radius AND dhash <= confirm radius),
side by side with phash alone.

    python scripts/bench/dedup_quality.py [--distinct 20000] [--variants 500]

A labelled set is generated: `distinct` different product images (one object on a plain background,
the hard case for perceptual hashes), and for `variants` of them four edited copies: JPEG re-encode at
quality 60, a 50 % resize, a 5 % crop, and a text overlay. Hashes come from the production worker
(lgs_crawl.imaging.process_image), in a process pool.

Recall: the share of (original, edited copy) pairs the filter calls duplicates, per edit.
False-positive rate: pairs of distinct images called duplicates, over all N(N-1)/2 distinct pairs,
counted exactly with the index's self-join (radius confirmed). With zero false pairs the rate is
reported as an upper bound by the rule of three (95 %): 3 / pairs. A bound of 1e-9 needs ~77k images.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def make(job: tuple[int, str]) -> tuple[int, str, str, str]:
    from PIL import ImageDraw

    from lgs_crawl.demo.images import encode, product_image
    from lgs_crawl.imaging import ImageOptions, process_image

    seed, edit = job
    rng = random.Random(seed)
    w, h = rng.randint(400, 900), rng.randint(400, 900)
    im = product_image(10_000_000 + seed, w, h)
    if edit == "reencode":
        data = encode(im, "JPEG", quality=60)
    elif edit == "resize50":
        data = encode(im.resize((w // 2, h // 2)), "JPEG", quality=85)
    elif edit == "crop5":
        dx, dy = int(w * 0.05), int(h * 0.05)
        data = encode(im.crop((dx // 2, dy // 2, w - dx // 2, h - dy // 2)), "JPEG", quality=85)
    elif edit == "overlay":
        im = im.copy()
        ImageDraw.Draw(im).text((w * 0.05, h * 0.85), "SALE -20% free shipping", fill=(200, 0, 0))
        data = encode(im, "JPEG", quality=85)
    else:
        data = encode(im, "JPEG", quality=85)
    out = process_image(data, ImageOptions(image_size=256))
    return seed, edit, out["phash"], out["dhash"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--distinct", type=int, default=20_000)
    ap.add_argument("--variants", type=int, default=500)
    ap.add_argument("--radius", type=int, default=8)
    ap.add_argument("--confirm", type=int, default=10)
    args = ap.parse_args()
    from lgs_crawl.dedup_index import HammingIndex

    edits = ("reencode", "resize50", "crop5", "overlay")
    jobs = [(s, "original") for s in range(args.distinct)] + [(s, e) for s in range(args.variants) for e in edits]
    t0 = time.perf_counter()
    with ProcessPoolExecutor() as pool:
        results = list(pool.map(make, jobs, chunksize=64))
    print(f"{len(results)} images hashed in {time.perf_counter() - t0:.0f} s")
    orig = {s: (int(p, 16), int(d, 16)) for s, e, p, d in results if e == "original"}
    print(f"{'edit':<10}{'recall (phash+dhash)':>22}{'recall (phash only)':>21}")
    for edit in edits:
        pairs = [(orig[s], (int(p, 16), int(d, 16))) for s, e, p, d in results if e == edit]
        both = sum((a[0] ^ b[0]).bit_count() <= args.radius and (a[1] ^ b[1]).bit_count() <= args.confirm
                   for a, b in pairs)
        alone = sum((a[0] ^ b[0]).bit_count() <= args.radius for a, b in pairs)
        print(f"{edit:<10}{both / len(pairs):>22.1%}{alone / len(pairs):>21.1%}")
    p = np.array([orig[s][0] for s in range(args.distinct)], np.uint64)
    d = np.array([orig[s][1] for s in range(args.distinct)], np.uint64)
    n_pairs = args.distinct * (args.distinct - 1) // 2
    for label, confirm in (("phash+dhash", args.confirm), ("phash only", None)):
        index = HammingIndex(args.radius, confirm)
        index.add_many(p, d)
        match, _ = index.earlier_duplicates()
        false = int((match >= 0).sum())  # images with at least one earlier false match (lower bound on pairs)
        rate = f"{false / n_pairs:.2e}" if false else f"< {3 / n_pairs:.1e} (0 found; rule of three)"
        print(f"false positives, {label:<12} {false} images among {n_pairs:,} distinct pairs: rate {rate}")


if __name__ == "__main__":
    main()
