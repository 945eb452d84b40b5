"""For researchers: the dataset card, Croissant, loading with no glue code, release -> regenerate,
global dedup, taxonomy and label sets — all on a real crawl of the demo shop."""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli
from tests.test_crawl import crawled_shop


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("research")
    with crawled_shop(tmp, 60, 40) as (shop, out, _):
        yield shop, out, tmp


def test_card_numbers_match_the_metadata(crawl):
    _, out, _ = crawl
    card = (out / "README.md").read_text()
    meta = pq.read_table(out / "metadata").to_pylist()
    stats = [json.loads(p.read_text()) for p in (out / "stats").glob("*.json")]
    words = [len(m["caption"].split()) for m in meta]

    def cell(label: str) -> str:
        return re.search(rf"^\| {label} \| (.+?) \|$", card, re.M).group(1)

    assert int(cell("Samples")) == len(meta)
    assert int(cell("Shards")) == len(stats)
    assert int(cell("Records seen")) == sum(s["seen"] for s in stats)
    assert int(cell("Records dropped")) == sum(s["dropped"] for s in stats)
    m = re.search(r"min (\d+), max (\d+), mean ([\d.]+), median ([\d.]+)", card)
    assert (int(m[1]), int(m[2]), float(m[3]), float(m[4])) == (
        min(words), max(words), round(statistics.fmean(words), 1), statistics.median(words))
    for lang, n in Counter(m["language"] for m in meta).items():
        assert f"| {lang} | {n} |" in card
    drops = Counter()
    for s in stats:
        drops.update(s["dropped_by_reason"])
    for stage_reason, n in drops.items():
        assert f"{stage_reason.split('.', 1)[1]}: {n}" in card
    widths = sorted(m["original_width"] for m in meta)
    assert f"| width | {widths[0]} |" in card and f"| {widths[-1]} |" in card
    leaves = Counter(m["breadcrumbs"][-1] for m in meta)
    top, n = leaves.most_common(1)[0]
    assert f"| {top} | {n} |" in card
    for png in ("funnel.png", "caption_length.png", "image_size.png", "languages.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"]({png})" in card


def test_croissant_validates_and_reads_records(crawl):
    _, out, _ = crawl
    import mlcroissant as mlc

    ds = mlc.Dataset(jsonld=str(out / "croissant.json"))
    records = list(ds.records("samples"))
    meta = pq.read_table(out / "metadata").to_pylist()
    assert len(records) == len(meta)
    keys = {r["samples/key"].decode() if isinstance(r["samples/key"], bytes) else r["samples/key"] for r in records}
    assert keys == {m["key"] for m in meta}
    doc = json.loads((out / "croissant.json").read_text())
    assert "robots.txt" in doc["rai:dataCollection"] and doc["distribution"][0]["includes"] == "shards/*.tar"


def test_loads_without_glue_code(crawl):
    _, out, _ = crawl
    n = pq.read_table(out / "metadata").num_rows
    import duckdb
    import polars as pl
    import webdataset as wds
    from datasets import load_dataset

    assert duckdb.sql(f"select count(*) from read_parquet('{out}/metadata/*.parquet')").fetchall()[0][0] == n
    assert pl.read_parquet(f"{out}/metadata/*.parquet").height == n
    tars = sorted(str(p) for p in (out / "shards").glob("*.tar"))
    assert sum(1 for _ in wds.WebDataset(tars, shardshuffle=False)) == n
    hf = load_dataset("webdataset", data_files={"train": tars}, split="train")
    assert hf.num_rows == n and {"jpg", "txt", "json"} <= set(hf.column_names)


def test_export_then_regenerate_matches(crawl):
    shop, out, tmp = crawl
    release = tmp / "release.parquet"
    assert run_cli("export-urls", str(out), "--to", str(release)).returncode == 0
    rel = pq.read_table(release).to_pylist()
    assert len(rel) == pq.read_table(out / "metadata").num_rows
    assert "image" not in pq.read_schema(release).names and {"source_sha256", "source_phash", "license"} <= set(
        pq.read_schema(release).names)
    # plant a changed image (the URL now serves another picture) and a vanished one
    changed, missing = rel[0], rel[1]
    changed["image_url"] = rel[5]["image_url"]
    missing["image_url"] = missing["image_url"].rsplit("/", 1)[0] + "/gone.jpg"
    edited = tmp / "release-edited.parquet"
    pq.write_table(pa.Table.from_pylist(rel, schema=pq.read_schema(release)), edited)
    regen = tmp / "regen"
    proc = run_cli("download", "--url-list", str(edited), "--out", str(regen), "--allow-private-network",
                   "--no-progress", timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    orig = {m["key"]: m for m in pq.read_table(out / "metadata").to_pylist()}
    new = pq.read_table(regen / "metadata").to_pylist()
    rejects = {r["image_url"]: r["reason"] for r in pq.read_table(regen / "rejects").to_pylist()}
    assert rejects[missing["image_url"]] == "source_missing"
    assert rejects[changed["image_url"]] == "source_changed"
    fields = ("caption", "title", "description", "brand", "breadcrumbs", "price", "currency", "sku", "gtin", "site")
    matched = 0
    for m in new:
        o = orig[m["source_key"]]
        assert m["sha256"] == o["sha256"]
        assert all(m[f] == o[f] for f in fields), [f for f in fields if m[f] != o[f]]
        matched += 1
    assert matched == len(rel) - 2  # every untouched row regenerated identically
    (tmp / "regen-match.txt").write_text(f"{matched}/{len(rel) - 2}")


def test_global_dedup_finds_planted_cross_run_duplicates(crawl):
    shop, out, tmp = crawl
    # a second output holding 8 images of the first (the same URLs downloaded again) plus 4 new ones
    meta = pq.read_table(out / "metadata").to_pylist()
    rows = [{"url": m["image_url"], "caption": m["caption"]} for m in meta[:8]]
    pq.write_table(pa.Table.from_pylist(rows), tmp / "again.parquet")
    other = tmp / "other"
    assert run_cli("download", "--url-list", str(tmp / "again.parquet"), "--out", str(other),
                   "--allow-private-network", "--no-progress").returncode == 0
    proc = run_cli("dedup", str(out), str(other), "--rewrite", str(tmp / "clean"))
    assert proc.returncode == 0, proc.stderr
    dups = pq.read_table(out / "duplicates.parquet").to_pylist()
    assert len(dups) == 8 and all(d["dataset"] == str(other) and d["duplicate_of_dataset"] == str(out) for d in dups)
    assert {d["duplicate_of"] for d in dups} == {m["key"] for m in meta[:8]}
    assert pq.read_table(tmp / "clean" / "other" / "metadata").num_rows == 0
    assert pq.read_table(tmp / "clean" / "ds" / "metadata").num_rows == len(meta)


def test_taxonomy_and_label_set(crawl):
    _, out, _ = crawl
    proc = run_cli("taxonomy", str(out), "--benchmark", "4")
    assert proc.returncode == 0, proc.stderr
    tree = json.loads((out / "taxonomy.json").read_text())
    tops = {c["name"] for c in tree["children"]}
    assert tops <= {"clothing", "home and kitchen", "electronics", "toys"} and "home" not in tops
    labels = pq.read_table(out / "labels-4.parquet").to_pylist()
    per_class = Counter(r["label"] for r in labels)
    assert per_class and set(per_class.values()) == {4}
    assert {r["split"] for r in labels} == {"train", "val"}
    keys = set(pq.read_table(out / "metadata").column("key").to_pylist())
    assert {r["key"] for r in labels} <= keys  # joinable on KEY
    assert len({r["label_id"] for r in labels}) == len(per_class)


def test_taxonomy_normalisation_rules():
    from lgs_crawl.taxonomy import normalise_paths

    paths = normalise_paths([["Home", "Home & Kitchen", "Lamp"], ["All products", "home and kitchen", "Lamps"],
                             ["Startseite", "Clothing", "Tees"], ["Clothing ", "T-Shirts"]])
    assert paths == [("home and kitchen", "lamps"), ("home and kitchen", "lamps"),
                     ("clothing", "t-shirts"), ("clothing", "t-shirts")]
