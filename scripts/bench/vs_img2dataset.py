"""URL list -> shards: `lgs-crawl download` (default filter chain) vs img2dataset (resize only), on the
same list, served by nginx, with the same output settings, measured side by side in one run.

    python scripts/bench/vs_img2dataset.py [--images 10000] [--venv /tmp/i2d-venv]

img2dataset is installed from PyPI into its own virtual environment (created if missing). Output:
webdataset, 256 px, keep_ratio, jpg, 2 processes; img2dataset with 32 threads. Reports samples/s,
CPU-seconds per 1k samples and peak RSS of each whole process tree, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import subprocess
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


def ensure_venv(venv: Path) -> Path:
    exe = venv / "bin" / "img2dataset"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "img2dataset"], check=True)
    return exe


def main() -> None:
    ap = argparse.ArgumentParser()
    add_corpus_arguments(ap, 10_000)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--venv", default="/tmp/i2d-venv")
    args = ap.parse_args()
    exe = ensure_venv(Path(args.venv))
    corpus, rows = cached_corpus(args)
    with tempfile.TemporaryDirectory() as tmp, serve(corpus) as base:
        tmp = Path(tmp)
        url_list = write_url_list(rows, base, tmp / "urls.parquet")
        i2d = measure([str(exe), "--url_list", str(url_list), "--input_format", "parquet", "--url_col", "url",
                       "--caption_col", "caption", "--output_format", "webdataset", "--output_folder",
                       str(tmp / "i2d"), "--image_size", "256", "--resize_mode", "keep_ratio",
                       "--encode_format", "jpg", "--processes_count", str(args.processes), "--thread_count", "32",
                       "--number_sample_per_shard", "1000", "--disallowed_header_directives", "[]",
                       "--enable_wandb", "False"])
        n_i2d = sum(json.loads(p.read_text()).get("successes", 0) for p in (tmp / "i2d").glob("*_stats.json"))
        lgs = measure([sys.executable, "-m", "lgs_crawl", "download", "--url-list", str(url_list),
                       "--out", str(tmp / "lgs"), "--processes", str(args.processes), "--no-progress",
                       "--allow-private-network", "--shard-size", "1000"], cwd=ROOT)
        rows_out = [("img2dataset (resize only)", n_i2d, i2d),
                    ("lgs-crawl download (all filters)", kept_samples(tmp / "lgs"), lgs)]
        report(f"{args.images} images via nginx, {args.processes} processes, 256 px keep_ratio jpg", rows_out,
               "img2dataset (resize only)")
        processed = json.loads((tmp / "lgs/run.json").read_text())["totals"]["seen"]
        print(f"lgs-crawl processed {processed} records ({processed / lgs.wall:.1f}/s incl. drops); "
              f"img2dataset successes {n_i2d}")


if __name__ == "__main__":
    main()
