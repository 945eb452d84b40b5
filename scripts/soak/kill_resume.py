"""Soak test: kill -9 `lgs-crawl download` at random moments, resume, and check exactly-once.

    python scripts/soak/kill_resume.py [--runs 20] [--images 400] [--seed 1]

Each round: start the download, SIGKILL it after a random delay (sometimes at a crash point inside
the shard commit), and repeat until a run finishes on its own. Then compare with an uninterrupted
reference run: every accepted sample exactly once (same keys, same source sha256), no temporary
files, tar members and Parquet rows one to one, stats adding up. Prints runs, kills, samples checked
and mismatches; exits 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from lgs_crawl.demo.images import encode, product_image  # noqa: E402
from tests.servers import Route, StaticServer  # noqa: E402


def dataset(out: Path) -> tuple[dict[str, str], list[str]]:
    problems = [f"leftover {p}" for p in out.rglob(".*.tmp")]
    meta = pq.read_table(out / "metadata").to_pylist()
    keys = []
    for tar in sorted((out / "shards").glob("*.tar")):
        with tarfile.open(tar) as tf:
            names = tf.getnames()
        if len(names) % 3:
            problems.append(f"{tar.name}: members not in threes")
        keys += sorted({n.split(".")[0] for n in names})
    if sorted(keys) != sorted(m["key"] for m in meta):
        problems.append("tar keys != parquet keys")
    if len(keys) != len(set(keys)):
        problems.append("duplicate keys")
    for p in (out / "stats").glob("*.json"):
        st = json.loads(p.read_text())
        if st["seen"] != st["kept"] + st["dropped"]:
            problems.append(f"{p.name}: stats do not add up")
    return {m["key"]: m["sha256"] for m in meta}, problems


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    routes = {f"/i/{i}.jpg": Route(encode(product_image(7000 + i, 440, 380), "JPEG", quality=85),
                                   headers={"Content-Type": "image/jpeg"}, delay=0.005) for i in range(args.images)}
    kills = mismatches = checked = 0
    with StaticServer(routes) as server, tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = [{"url": server.url(f"/i/{i}.jpg"), "caption": f"Stoneware serving bowl, speckled glaze, size {i}"}
                for i in range(args.images)]
        pq.write_table(pa.Table.from_pylist(rows), tmp / "urls.parquet")

        def cmd(out: Path) -> list[str]:
            return [sys.executable, "-m", "lgs_crawl", "download", "--url-list", str(tmp / "urls.parquet"),
                    "--out", str(out), "--shard-size", "50", "--allow-private-network", "--no-progress"]

        subprocess.run(cmd(tmp / "ref"), check=True, capture_output=True, cwd=ROOT)
        want, problems = dataset(tmp / "ref")
        assert not problems, problems
        for run in range(args.runs):
            out = tmp / f"run{run}"
            while True:
                env = dict(os.environ)
                if rng.random() < 0.2:
                    env["LGS_CRASH_POINT"] = "after_tar_rename"
                p = subprocess.Popen(cmd(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
                try:
                    p.wait(timeout=rng.uniform(0.3, 3.0))
                except subprocess.TimeoutExpired:
                    p.send_signal(signal.SIGKILL)
                    p.wait()
                if p.returncode == 0:
                    break
                kills += 1
                time.sleep(0.05)
            got, problems = dataset(out)
            checked += len(got)
            bad = len(problems) + sum(1 for k in set(want) | set(got) if want.get(k) != got.get(k))
            mismatches += bad
            print(f"run {run + 1}/{args.runs}: {len(got)} samples, {bad} mismatches {problems[:3]}", flush=True)
    print(json.dumps({"runs": args.runs, "kills": kills, "samples_checked": checked, "mismatches": mismatches}))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
