"""Is `lgs-crawl download`'s memory flat in the length of the list? RSS of the run's process tree,
sampled as shards are committed, over a list of `--repeats` x the corpus.

    python scripts/bench/memory_flat.py [--images 3000] [--repeats 4]

The list names every corpus image `repeats` times (a different query string each time; nginx ignores
it), so the later rows take the whole path (fetch, decode, hashes) and drop as exact duplicates: what
must stay flat is everything but the dedup state, which grows by design (~67 bytes a kept sample).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, _tree, add_corpus_arguments, cached_corpus, serve  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    add_corpus_arguments(ap)
    ap.add_argument("--repeats", type=int, default=4)
    args = ap.parse_args()
    import pyarrow as pa
    import pyarrow.parquet as pq

    corpus, rows = cached_corpus(args)
    with tempfile.TemporaryDirectory() as tmp, serve(corpus) as base:
        tmp = Path(tmp)
        pq.write_table(pa.Table.from_pylist([{"url": f"{base}/{r['name']}?copy={k}", "caption": r["caption"]}
                                             for k in range(args.repeats) for r in rows]), tmp / "urls.parquet")
        out = tmp / "out"
        proc = subprocess.Popen([sys.executable, "-m", "lgs_crawl", "download", "--url-list", str(tmp / "urls.parquet"),
                                 "--out", str(out), "--no-progress", "--allow-private-network", "--shard-size", "1000"],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak_by_shards: dict[int, int] = {}
        t0 = time.perf_counter()
        while proc.poll() is None:
            rss, _ = _tree(proc.pid)
            done = len([p for p in (out / "stats").glob("[0-9]*.json")]) if (out / "stats").exists() else 0
            peak_by_shards[done] = max(peak_by_shards.get(done, 0), rss)
            time.sleep(0.2)
        wall = time.perf_counter() - t0
    print(f"{args.images * args.repeats:,} records ({args.repeats} x {args.images:,} images), {wall:.0f} s")
    print(f"{'records committed':>18}{'peak tree RSS MB':>18}")
    step = max(1, len(peak_by_shards) // 8)
    for shards in sorted(peak_by_shards)[::step]:
        print(f"{shards * 1000:>18,}{peak_by_shards[shards] / 2**20:>18.0f}")
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
