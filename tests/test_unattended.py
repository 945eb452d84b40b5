"""Unattended runs: locking, kill -9 and resume (exactly once), clean stops, incremental crawls."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lgs_crawl.demo.images import encode, product_image
from lgs_crawl.demo.shop import DemoShop, ShopThread
from tests.conftest import ROOT
from tests.servers import Route, StaticServer
from tests.test_crawl import site_config


def cli_args(*args: str) -> list[str]:
    return [sys.executable, "-m", "lgs_crawl", *args]


def check_dataset(out: Path, after_kill: bool = False) -> dict[str, str]:
    """The output contract after any crash and resume: no temp files, tar <-> parquet one to one,
    unique keys, stats adding up. Returns {key: sha256}."""
    leftovers = [p for p in out.rglob(".*.tmp")]
    assert after_kill or not leftovers, leftovers  # right after kill -9 only temp names may be half-written
    meta = pq.read_table(out / "metadata").to_pylist() if list((out / "metadata").glob("*.parquet")) else []
    # (a directory read must not trip over temporary files, which are hidden dot-files)
    keys_tar = []
    for tar in sorted((out / "shards").glob("*.tar")):
        name = tar.stem
        assert (out / "metadata" / f"{name}.parquet").exists() and (out / "stats" / f"{name}.json").exists()
        with tarfile.open(tar) as tf:
            members = tf.getnames()
        assert len(members) % 3 == 0
        keys_tar += sorted({m.split(".")[0] for m in members})
    assert len(keys_tar) == len(set(keys_tar)) == len(meta)
    assert set(keys_tar) == {m["key"] for m in meta}
    for p in (out / "stats").glob("*.json"):
        st = json.loads(p.read_text())
        assert st["seen"] == st["kept"] + st["dropped"]
    return {m["key"]: m["sha256"] for m in meta}


@pytest.fixture(scope="module")
def image_server():
    routes = {f"/i/{i}.jpg": Route(encode(product_image(5000 + i, 420, 360), "JPEG", quality=85),
                                   headers={"Content-Type": "image/jpeg"}, delay=0.01) for i in range(240)}
    with StaticServer(routes) as server:
        yield server


def url_list(server: StaticServer, folder: Path) -> Path:
    rows = [{"url": server.url(f"/i/{i}.jpg"), "caption": f"Handmade ceramic coffee mug number {i} in blue"}
            for i in range(240)]
    path = folder / "urls.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def download_args(urls: Path, out: Path) -> list[str]:
    return cli_args("download", "--url-list", str(urls), "--out", str(out), "--shard-size", "40",
                    "--allow-private-network", "--no-progress", "--processes", "2")


def test_lock_names_holder_and_stale_lock_is_taken_over(tmp_path, image_server):
    out = tmp_path / "ds"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys,time; from pathlib import Path; from lgs_crawl.lock import OutputLock\n"
                               f"l = OutputLock(Path({str(out)!r})).__enter__(); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    urls = url_list(image_server, tmp_path)
    proc = subprocess.run(download_args(urls, out), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 75, proc.stderr
    assert f"pid {holder.pid}" in proc.stderr and "since" in proc.stderr
    holder.send_signal(signal.SIGKILL)  # a dead holder: the lock is stale
    holder.wait()
    proc = subprocess.run(download_args(urls, out), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_download_kill_9_and_resume_is_exactly_once(tmp_path, image_server):
    urls = url_list(image_server, tmp_path)
    reference = tmp_path / "ref"
    subprocess.run(download_args(urls, reference), check=True, capture_output=True, timeout=120)
    want = check_dataset(reference)
    assert len(want) == 240

    out = tmp_path / "ds"
    # 1. killed during the rename of the first shard (tar renamed, the rest not yet, state not committed)
    proc = subprocess.run(download_args(urls, out), capture_output=True, timeout=120,
                          env={**os.environ, "LGS_CRASH_POINT": "after_tar_rename"})
    assert proc.returncode == -signal.SIGKILL
    # 2. killed mid-fetch / mid-shard, twice, at different moments
    for delay in (0.8, 1.6):
        p = subprocess.Popen(download_args(urls, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
    # 3. the same command finishes the job
    proc = subprocess.run(download_args(urls, out), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = check_dataset(out)
    assert got == want  # every accepted sample exactly once, same key, same source bytes
    run = json.loads((out / "run.json").read_text())
    assert run["totals"]["shards_written"] + run["totals"]["shards_skipped"] == 6


def test_download_sigterm_stops_cleanly(tmp_path, image_server):
    urls = url_list(image_server, tmp_path)
    out = tmp_path / "ds"
    p = subprocess.Popen(download_args(urls, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.2)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert json.loads((out / "run.json").read_text())["status"] == "stopped"
    first = check_dataset(out)
    assert len(first) < 240
    subprocess.run(download_args(urls, out), check=True, capture_output=True, timeout=120)
    assert len(check_dataset(out)) == 240


def crawl_args(cfg: Path, out: Path, *extra: str) -> list[str]:
    return cli_args("run", "--site", str(cfg), "--out", str(out), "--no-progress", *extra)


def test_crawl_kill_9_resume_then_incremental(tmp_path):
    changes = {"site.render": "http", "max_error_share": 0.5, "output.shard_size": 20}
    with ShopThread(DemoShop(products=40, crawl_delay=0.0)) as shop:
        cfg = site_config(shop.base, tmp_path, **changes)
        ref = tmp_path / "ref"
        subprocess.run(crawl_args(cfg, ref), check=True, capture_output=True, timeout=180)
        out = tmp_path / "ds"
        p = subprocess.Popen(crawl_args(cfg, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline and not list((out / "shards").glob("*.tar")):
            time.sleep(0.05)  # kill once at least one shard is committed and more are in flight
        p.send_signal(signal.SIGKILL)
        p.wait()
        partial = check_dataset(out, after_kill=True)
        proc = subprocess.run(crawl_args(cfg, out), capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stderr[-2000:]
    check_dataset(out)
    ref_meta = pq.read_table(ref / "metadata").to_pylist()
    meta = pq.read_table(out / "metadata").to_pylist()
    urls = [m["image_url"] for m in meta]
    assert len(urls) == len(set(urls))  # nothing twice
    assert len(partial) > 0
    # the same samples as an uninterrupted crawl (a near-duplicate pair may keep the other twin)
    assert abs(len(meta) - len(ref_meta)) == 0
    assert len({m["image_url"] for m in ref_meta} ^ set(urls)) <= 2

    # a later run of a grown shop crawls only what is new, and appends shards
    port = int(shop.base.rsplit(":", 1)[1])  # the same shop, grown: same address
    with ShopThread(DemoShop(products=60), port=port) as shop2:
        cfg2 = site_config(shop2.base, tmp_path, **changes)
        shards_before = {p.name for p in (out / "shards").glob("*.tar")}
        proc = subprocess.run(crawl_args(cfg2, out), capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stderr[-2000:]
        product_hits = [path for _, path, _ in shop2.shop.log if path.startswith("/p/")]
    meta2 = pq.read_table(out / "metadata").to_pylist()
    new = [m for m in meta2 if m["key"] not in {x["key"] for x in meta}]
    assert new and all(int(m["page_url"].rsplit("-", 1)[1].split(".")[0]) >= 40 for m in new)
    assert len({m["image_url"] for m in meta2}) == len(meta2)
    assert {p.name for p in (out / "shards").glob("*.tar")} > shards_before
    old = sorted(p for p in product_hits if int(p.rsplit("-", 1)[1].split(".")[0]) < 40)
    assert len(product_hits) <= 20 + 10, str(sorted(int(p.rsplit("-", 1)[1].split(".")[0]) for p in old))
    run = json.loads((out / "run.json").read_text())
    assert run["totals"]["crawler_stats"].get("lgs/pages_unchanged", 0) >= 30


def test_crawl_sigterm_and_max_products_commit_what_they_have(tmp_path):
    with ShopThread(DemoShop(products=60, crawl_delay=0.05)) as shop:
        cfg = site_config(shop.base, tmp_path, **{"site.render": "http", "max_error_share": 0.5})
        out = tmp_path / "ds"
        p = subprocess.Popen(crawl_args(cfg, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(4)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        run = json.loads((out / "run.json").read_text())
        assert run["status"] == "stopped", run["status"]
        assert 0 < len(check_dataset(out))

        out2 = tmp_path / "ds2"
        proc = subprocess.run(crawl_args(cfg, out2, "--max-products", "5"), capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        run = json.loads((out2 / "run.json").read_text())
        assert run["status"] == "max_products"
        pages = {m["page_url"] for m in pq.read_table(out2 / "metadata").to_pylist()}
        assert len(pages) == 5  # the pages already yielded finish; nothing is cut in half
        check_dataset(out2)


def test_log_file_is_json_lines(tmp_path, image_server):
    urls = url_list(image_server, tmp_path)
    log = tmp_path / "run.jsonl"
    proc = subprocess.run(download_args(urls, tmp_path / "ds") + ["--log-file", str(log)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert {"ts", "level", "logger", "event"} <= set(events[0])
    text = [e["event"] for e in events]
    assert any(t.startswith("run started") for t in text) and any(t.startswith("run finished") for t in text)
    assert sum(1 for e in events if e.get("shard") is not None) == 6
    assert ROOT.exists()
    assert Counter(e["level"] for e in events)["error"] == 0


def test_crawl_max_duration_stops_cleanly(tmp_path):
    with ShopThread(DemoShop(products=60, crawl_delay=0.05)) as shop:
        cfg = site_config(shop.base, tmp_path, **{"site.render": "http", "max_error_share": 0.5})
        out = tmp_path / "ds"
        t0 = time.time()
        proc = subprocess.run(crawl_args(cfg, out, "--max-duration", "3s"), capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert time.time() - t0 < 30
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "max_duration"
    assert 0 < len(check_dataset(out))
    bad = subprocess.run(crawl_args(cfg, tmp_path / "x", "--max-duration", "soon"), capture_output=True, text=True)
    assert bad.returncode == 2 and "--max-duration" in bad.stderr
