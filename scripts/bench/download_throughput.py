"""`lgs-crawl download` throughput on a local corpus, side by side with a plain Pillow baseline.

    python scripts/bench/download_throughput.py [--images 3000] [--processes 2]

Prints samples/s, CPU-seconds per 1k samples (whole process tree) and peak RSS of each run, and the
ratio against the baseline, measured in one run because these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    ROOT,
    add_corpus_arguments,
    cached_corpus,
    kept_samples,
    measure,
    report,
    serve,
    write_url_list,
)


def main() -> None:
    ap = argparse.ArgumentParser()
    add_corpus_arguments(ap)
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args()
    corpus, rows = cached_corpus(args)
    with tempfile.TemporaryDirectory() as tmp, serve(corpus) as base:
        tmp = Path(tmp)
        url_list = write_url_list(rows, base, tmp / "urls.parquet")
        results = []
        plain = measure([sys.executable, str(ROOT / "scripts/bench/plain_pillow_baseline.py"), str(url_list),
                         str(tmp / "plain"), str(args.processes)])
        import tarfile

        with tarfile.open(tmp / "plain/000000.tar") as tf:
            n_plain = len([m for m in tf.getmembers() if m.name.endswith(".jpg")])
        results.append(("plain Pillow (no filters)", n_plain, plain))
        lgs = measure([sys.executable, "-m", "lgs_crawl", "download", "--url-list", str(url_list),
                       "--out", str(tmp / "lgs"), "--processes", str(args.processes), "--no-progress",
                       "--allow-private-network", "--shard-size", "1000"], cwd=ROOT)
        assert lgs.returncode == 0
        # samples processed (kept + rejected) is the work done; kept is what the dataset gets
        results.append(("lgs-crawl download (all filters)", kept_samples(tmp / "lgs"), lgs))
        import json

        dropped = json.loads((tmp / "lgs/run.json").read_text())["totals"]["dropped_by_reason"]
        print("lgs-crawl drops:", dropped)
        report(f"{args.images} images, {args.processes} processes, 256 px keep_ratio jpg", results,
               "plain Pillow (no filters)")


if __name__ == "__main__":
    main()
