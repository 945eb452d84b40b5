"""Shared benchmark helpers: a generated image corpus, a server that is not the bottleneck (Debian's
nginx when present, else a multi-process Python server), and whole-process-tree measurement
(wall time, CPU seconds of the tree, peak RSS of the tree)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def captions(rng: random.Random) -> str:
    from lgs_crawl.demo.catalogue import BRANDS, NOUNS, WORDS

    lang = rng.choice(["en", "en", "de", "fr", "es", "it"])
    w = WORDS[lang]
    leaf = rng.choice(list(NOUNS))
    return (f"{rng.choice(BRANDS)} {rng.choice(w['adj'])} {rng.choice(w['colour'])} {NOUNS[leaf][lang]}. "
            f"{rng.choice(w['lines'])}")


def make_corpus(folder: Path, n: int, seed: int = 1, corrupt_share: float = 0.01) -> list[dict]:
    """n product images, 400-1600 px, mostly JPEG, some PNG, ~1 % corrupt or missing. Cached on disk."""
    from lgs_crawl.demo.images import encode, product_image

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        w, h = rng.randint(400, 1600), rng.randint(400, 1600)
        fmt = "PNG" if rng.random() < 0.08 else "JPEG"
        name = f"{i:06d}.{'png' if fmt == 'PNG' else 'jpg'}"
        caption = captions(rng)
        fault = rng.random()
        path = folder / name
        if fault < corrupt_share / 2:
            name = f"missing-{i:06d}.jpg"  # never written: 404
        elif not path.exists():
            if fault < corrupt_share:
                path.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(2000))
            else:
                im = product_image(seed * 1_000_003 + i, w, h)
                path.write_bytes(encode(im, fmt, **({"quality": 88} if fmt == "JPEG" else {"compress_level": 1})))
        rows.append({"name": name, "caption": caption})
    return rows


def add_corpus_arguments(ap: argparse.ArgumentParser, images: int = 3000) -> None:
    ap.add_argument("--images", type=int, default=images)
    ap.add_argument("--cache", default="/tmp/lgs-bench-corpus", help="generated corpora are kept here")


def cached_corpus(args: argparse.Namespace) -> tuple[Path, list[dict]]:
    """The corpus the arguments name: (its folder, its rows)."""
    corpus = Path(args.cache) / f"seed1-{args.images}"
    return corpus, make_corpus(corpus, args.images)


def write_url_list(rows: list[dict], base: str, path: Path) -> Path:
    """The corpus as a Parquet URL list (url, caption) pointing at the server at base."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([{"url": f"{base}/{r['name']}", "caption": r["caption"]} for r in rows]),
                   path)
    return path


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve a folder on 127.0.0.1; yields the base URL."""
    port = free_port()
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    tmp = Path(tempfile.mkdtemp(prefix="lgs-bench-nginx-"))
    if nginx:
        conf = tmp / "nginx.conf"
        conf.write_text(f"""
worker_processes 2;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
daemon off;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  keepalive_requests 100000;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  types {{ image/jpeg jpg; image/png png; text/html html; }}
  server {{ listen 127.0.0.1:{port}; root {folder}; }}
}}""")
        proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp)], stderr=subprocess.DEVNULL)
    else:
        proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                                 "--directory", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def _tree(root: int) -> tuple[int, dict[int, float]]:
    """(sum of RSS bytes, {pid: CPU seconds so far}) over a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            pid, ppid = int(entry), int(fields[1])
            rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
            children.setdefault(ppid, []).append(pid)
        except (OSError, IndexError, ValueError):
            continue
    total, stack, tree_cpu = 0, [root], {}
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        if pid in cpu:
            tree_cpu[pid] = cpu[pid]
        stack.extend(children.get(pid, []))
    return total, tree_cpu


@dataclass
class Measured:
    wall: float
    cpu: float
    peak_rss: int
    returncode: int


def measure(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Measured:
    """Run a command; wall seconds, CPU seconds of the whole tree (the larger of: user+sys of reaped
    descendants, and the sum over every process of the tree seen in /proc, sampled every 50 ms — forkserver
    pool workers are not reaped by us), and peak RSS of the tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    seen_cpu: dict[int, float] = {}
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            rss, cpu = _tree(proc.pid)
            peak = max(peak, rss)
            seen_cpu.update(cpu)
            time.sleep(0.05)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - t0
    stop.set()
    t.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = max((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), sum(seen_cpu.values()))
    if proc.returncode != 0:
        sys.stderr.write(err.decode(errors="replace")[-3000:])
    return Measured(wall, cpu, peak, proc.returncode)


def kept_samples(out: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in (out / "metadata").glob("*.parquet"))


def report(title: str, rows: list[tuple[str, int, Measured]], baseline: str) -> None:
    print(f"\n{title}")
    print(f"{'run':<28}{'samples':>9}{'wall s':>9}{'samples/s':>11}{'CPU s/1k':>10}{'peak RSS MB':>13}{'× base':>8}")
    base = next(m for name, _, m in rows if name == baseline)
    base_rate = next(n for name, n, _ in rows if name == baseline) / base.wall
    for name, n, m in rows:
        rate = n / m.wall
        print(f"{name:<28}{n:>9}{m.wall:>9.1f}{rate:>11.1f}{1000 * m.cpu / max(n, 1):>10.2f}"
              f"{m.peak_rss / 2**20:>13.0f}{rate / base_rate:>8.2f}")
    print(json.dumps({name: {"samples": n, "wall_s": round(m.wall, 2), "samples_per_s": round(n / m.wall, 1),
                             "cpu_s_per_1k": round(1000 * m.cpu / max(n, 1), 2),
                             "peak_rss_mb": round(m.peak_rss / 2**20)} for name, n, m in rows}))
