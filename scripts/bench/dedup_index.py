"""Near-duplicate index at scale: build, batched lookups at radius 8, memory, self-join rate,
side by side with a linear numpy scan (the baseline it must beat).

    python scripts/bench/dedup_index.py [--stored 10000000] [--queries 20000]

Hashes are random 64-bit values with the top bit set, as phash's DC bit is on real images; queries are
stored hashes with 0-10 bits flipped, so about half are within radius 8.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from lgs_crawl.dedup_index import HammingIndex  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stored", type=int, default=10_000_000)
    ap.add_argument("--queries", type=int, default=20_000)
    ap.add_argument("--selfjoin", type=int, default=15_000_000, help="corpus size for the self-join estimate")
    ap.add_argument("--selfjoin-sample", type=int, default=50_000)
    ap.add_argument("--batch", type=int, default=128, help="queries per call (128 measured best: larger batches spill the caches)")
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    top = np.uint64(1 << 63)
    p = rng.integers(0, 2**63, args.stored, dtype=np.uint64) | top
    d = rng.integers(0, 2**63, args.stored, dtype=np.uint64)
    c = rng.integers(0, 2**63, args.stored, dtype=np.uint64)
    t0 = time.perf_counter()
    index = HammingIndex(radius=8, confirm_radius=10, chroma_tolerance=3)
    index.add_many(p, d, c)
    build = time.perf_counter() - t0
    base = rng.integers(0, args.stored, args.queries)
    q, qd, qc = p[base].copy(), d[base].copy(), c[base].copy()
    for i in range(args.queries):
        for bit in rng.choice(63, rng.integers(0, 11), replace=False):
            q[i] ^= np.uint64(1 << int(bit))
    nbytes, no_chroma = index.nbytes, (index.nbytes - index.chroma_nbytes) / args.stored
    t0 = time.perf_counter()
    found = np.concatenate([index.query_many(q[s:s + args.batch], qd[s:s + args.batch], qc[s:s + args.batch])[0]
                            for s in range(0, args.queries, args.batch)])
    mih = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(1000):
        index.query(int(q[i]), int(qd[i]), int(qc[i]))
    single = (time.perf_counter() - t0) / 1000
    truth = np.bitwise_count(p[base] ^ q) <= 8
    recall = float(np.mean(found[truth] >= 0))
    t0 = time.perf_counter()
    lin_n = 50
    for i in range(lin_n):
        np.bitwise_count(p ^ q[i]).min()
    linear = (time.perf_counter() - t0) / lin_n
    # self-join of a whole corpus: every hash looked up against those stored before it. Timed on a
    # sample of queries against the full index (each lookup enumerates all its buckets, so this is
    # the cost per hash at the final size: an upper bound for the earlier, smaller part of the join)
    sj = args.selfjoin
    big = HammingIndex(radius=8, confirm_radius=10, chroma_tolerance=3)
    extra = rng.integers(0, 2**63, max(0, sj - args.stored), dtype=np.uint64)
    allp, alld, allc = np.concatenate([p, extra | top])[:sj], np.concatenate([d, extra])[:sj], np.concatenate([c, extra])[:sj]
    del index  # its memory, for the big one
    big.add_many(allp, alld, allc)
    sample = np.sort(rng.choice(sj, args.selfjoin_sample, replace=False))
    t0 = time.perf_counter()
    for s in range(0, len(sample), 512):
        at = sample[s:s + 512]
        big.query_many(allp[at], alld[at], allc[at], before=at)
    selfjoin = (time.perf_counter() - t0) * sj / len(sample)
    per_hash_bytes = nbytes / args.stored
    print(f"stored hashes            {args.stored:,}")
    print(f"build                    {build:.1f} s")
    print(f"RAM per stored hash      {per_hash_bytes:.1f} bytes with the dhash and chroma checks, {no_chroma:.1f} "
          f"with dhash alone (phash, confirm hashes, 3 band orders, shared offsets; the filter adds 8 for keys)")
    print(f"lookups at radius 8      {args.queries / mih:,.0f}/s in batches of {args.batch} (one core), "
          f"recall {recall:.1%}; one at a time {1 / single:,.0f}/s")
    print(f"linear numpy scan        {1 / linear:,.1f}/s  -> index is {linear / (mih / args.queries):,.0f}x faster")
    print(f"self-join of {sj:,}      {selfjoin / 60:.1f} min on one core (from {args.selfjoin_sample:,} sampled "
          f"queries against all {sj:,}; goal: within one core-hour)")


if __name__ == "__main__":
    main()
