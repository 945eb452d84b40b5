"""End to end: `lgs-crawl download` on a URL list served from 127.0.0.1, output read back with the
libraries researchers use."""

from __future__ import annotations

import io
import json
import tarfile
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from lgs_crawl.demo.images import encode, product_image
from tests.servers import Route, StaticServer

CAPTIONS = [
    "Red leather handbag with gold zip and adjustable shoulder strap",
    "Rote Lederhandtasche mit goldenem Reißverschluss und verstellbarem Schultergurt",
    "Sac à main en cuir rouge avec fermeture éclair dorée et bandoulière réglable",
    "Wooden kitchen chair with a curved backrest, oiled oak finish",
    "Ceramic coffee mug, 350 ml, dishwasher safe, matte white glaze",
]


def jpeg(seed: int, w: int = 640, h: int = 480, **kw) -> bytes:
    return encode(product_image(seed, w, h), "JPEG", quality=90, **kw)


def build_corpus() -> tuple[dict[str, Route], list[dict], Counter]:
    routes: dict[str, Route] = {}
    rows: list[dict] = []
    expect: Counter = Counter()

    def add(path: str, route: Route | None, caption: str, url: str | None = None, reason: str = "kept",
            **extra) -> None:
        if route is not None:
            routes[path] = route
        rows.append({"url": url or path, "caption": caption, "product_id": f"p{len(rows)}", **extra})
        expect[reason] += 1

    for i in range(40):
        add(f"/img/{i}.jpg", Route(jpeg(i, 400 + 23 * i, 300 + 17 * i), headers={"Content-Type": "image/jpeg"}),
            f"{CAPTIONS[i % 5]} (model {i})")
    rgba = product_image(100, 500, 500).convert("RGBA")
    rgba.putalpha(200)
    add("/img/rgba.png", Route(encode(rgba, "PNG"), headers={"Content-Type": "image/png"}), CAPTIONS[3] + " RGBA")
    pal = product_image(101, 500, 400).convert("P", palette=Image.Palette.ADAPTIVE)
    pal.info["transparency"] = 0
    add("/img/pal.png", Route(encode(pal, "PNG", transparency=0), headers={"Content-Type": "image/png"}),
        CAPTIONS[4] + " palette")
    cmyk = product_image(102, 600, 600).convert("CMYK")
    add("/img/cmyk.jpg", Route(encode(cmyk, "JPEG"), headers={"Content-Type": "image/jpeg"}), CAPTIONS[0] + " CMYK")
    rot = product_image(103, 800, 400)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: stored 800x400, shown 400x800
    add("/img/rotated.jpg", Route(encode(rot, "JPEG", exif=exif.tobytes()), headers={"Content-Type": "image/jpeg"}),
        CAPTIONS[1] + " rotated")
    add("/img/flaky.jpg", Route(jpeg(104), headers={"Content-Type": "image/jpeg"}, fail_times=2, retry_after="0"),
        CAPTIONS[2] + " after two 503s")
    # planted faults, each with the reason it must land under
    add("/img/corrupt.jpg", Route(b"\xff\xd8\xff\xe0 this is not really a jpeg" * 10,
                                  headers={"Content-Type": "image/jpeg"}), CAPTIONS[0] + " corrupt",
        reason="image_valid.decode_error")
    add("/img/truncated.jpg", Route(jpeg(105)[:3000], headers={"Content-Type": "image/jpeg"}),
        CAPTIONS[1] + " truncated", reason="image_valid.truncated_image")
    add("/img/missing1.jpg", None, CAPTIONS[2] + " missing", reason="fetch.http_404")
    add("/img/missing2.jpg", None, CAPTIONS[3] + " missing", reason="fetch.http_404")
    routes["/img/dup-of-0.jpg"] = routes["/img/0.jpg"]
    add("/img/dup-of-0.jpg", None, CAPTIONS[0] + " duplicate copy", reason="phash_dedup.exact_duplicate")
    near = product_image(1, 423, 317).resize((380, 285))
    add("/img/near-1.jpg", Route(encode(near, "JPEG", quality=70), headers={"Content-Type": "image/jpeg"}),
        CAPTIONS[1] + " near duplicate", reason="phash_dedup.near_duplicate")
    for k in range(2):
        add(f"/img/noai{k}.jpg", Route(jpeg(110 + k), headers={"Content-Type": "image/jpeg",
                                                               "X-Robots-Tag": ["noai", "lgs-crawl: noimageai"][k]}),
            CAPTIONS[k] + " opted out", reason="optout.optout_header")
    add("/img/otherbot.jpg", Route(jpeg(112), headers={"Content-Type": "image/jpeg",
                                                       "X-Robots-Tag": "otherbot: noai"}),
        CAPTIONS[2] + " opted out of another bot only")
    add("/img/small.jpg", Route(jpeg(113, 120, 120), headers={"Content-Type": "image/jpeg"}),
        CAPTIONS[3] + " tiny", reason="image_size.too_small")
    add("/img/wide.jpg", Route(jpeg(114, 1600, 300), headers={"Content-Type": "image/jpeg"}),
        CAPTIONS[4] + " banner", reason="image_size.bad_aspect")
    add("/img/page.html", Route(b"<html>hello</html>", headers={"Content-Type": "text/html"}),
        CAPTIONS[0] + " html", reason="fetch.wrong_content_type")
    add("", None, CAPTIONS[1] + " file", url="file:///etc/passwd", reason="fetch.bad_scheme")
    add("/img/cart.jpg", Route(jpeg(115), headers={"Content-Type": "image/jpeg"}), "Add to cart",
        reason="caption_quality.boilerplate")
    add("/img/short.jpg", Route(jpeg(116), headers={"Content-Type": "image/jpeg"}), "Mug",
        reason="caption_quality.too_few_words")
    return routes, rows, expect


@pytest.fixture(scope="module")
def corpus():
    routes, rows, expect = build_corpus()
    with StaticServer(routes) as server:
        for r in rows:
            if r["url"].startswith("/"):
                r["url"] = server.url(r["url"])
        yield server, rows, expect


def read_tars(out: Path) -> dict[str, dict[str, bytes]]:
    samples: dict[str, dict[str, bytes]] = {}
    for tar_path in sorted((out / "shards").glob("*.tar")):
        with tarfile.open(tar_path) as tf:
            for m in tf.getmembers():
                key, _, ext = m.name.partition(".")
                samples.setdefault(key, {})[ext] = tf.extractfile(m).read()
    return samples


def test_download_end_to_end(corpus, cli, tmp_path):
    server, rows, expect = corpus
    url_list = tmp_path / "urls.parquet"
    pq.write_table(pa.Table.from_pylist(rows), url_list)
    out = tmp_path / "ds"
    proc = cli("download", "--url-list", str(url_list), "--out", str(out), "--allow-private-network",
               "--shard-size", "20", "--processes", "2", "--no-progress")
    assert proc.returncode == 0, proc.stderr

    # layout
    shards = sorted(p.name for p in (out / "shards").iterdir())
    assert shards == ["000000.tar", "000001.tar", "000002.tar"]
    for d, suffix in (("metadata", ".parquet"), ("rejects", ".parquet"), ("stats", ".json")):
        assert sorted(p.name for p in (out / d).iterdir()) == [s.replace(".tar", suffix) for s in shards]
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "done" and run["exit_code"] == 0

    # every planted fault under its reason; kept + rejected = input
    rejects = pq.read_table(out / "rejects").to_pylist()
    got = Counter(f"{r['stage']}.{r['reason']}" for r in rejects)
    meta = pq.read_table(out / "metadata").to_pylist()
    got["kept"] = len(meta)
    assert got == expect
    assert len(meta) + len(rejects) == len(rows)
    assert run["totals"]["seen"] == len(rows) and run["totals"]["kept"] == expect["kept"]

    # tar samples match parquet rows one to one, same members in every sample
    samples = read_tars(out)
    assert set(samples) == {m["key"] for m in meta}
    for key, members in samples.items():
        assert key.isdigit() and len(key) == 12
        assert set(members) == {"jpg", "txt", "json"}
        info = json.loads(members["json"])
        assert info["key"] == key and members["txt"].decode() == info["caption"]
        im = Image.open(io.BytesIO(members["jpg"]))
        assert im.format == "JPEG" and im.mode == "RGB"
        assert min(im.size) == min(256, info["original_width"], info["original_height"])
        assert im.size == (info["width"], info["height"])
    by_url = {m["image_url"].rsplit("/", 1)[-1]: m for m in meta}
    assert (by_url["rotated.jpg"]["original_width"], by_url["rotated.jpg"]["original_height"]) == (400, 800)
    assert by_url["0.jpg"]["product_id"] == "p0"  # extra input columns carried through
    assert json.loads(samples[by_url["0.jpg"]["key"]]["json"])["product_id"] == "p0"
    langs = Counter(m["language"] for m in meta)
    assert {"en", "de", "fr"} <= set(langs)

    # stats add up per shard and per stage
    seen = kept = 0
    for p in (out / "stats").iterdir():
        st = json.loads(p.read_text())
        assert st["seen"] == st["kept"] + st["dropped"]
        assert st["dropped"] == sum(st["dropped_by_reason"].values())
        for name, stage in st["stages"].items():
            assert stage["seen"] == stage["kept"] + sum(stage["dropped"].values()), name
        seen += st["seen"]
        kept += st["kept"]
    assert (seen, kept) == (len(rows), expect["kept"])

    # the retried URL was asked three times, with our User-Agent
    flaky = [ua for path, ua in server.requests if path == "/img/flaky.jpg"]
    assert len(flaky) == 3 and all(ua.startswith("lgs-crawl/") for ua in flaky)

    # a second run skips every finished shard and changes nothing
    before = {p.name: p.read_bytes() for p in (out / "shards").iterdir()}
    proc2 = cli("download", "--url-list", str(url_list), "--out", str(out), "--allow-private-network",
                "--shard-size", "20", "--processes", "2", "--no-progress")
    assert proc2.returncode == 0, proc2.stderr
    assert {p.name: p.read_bytes() for p in (out / "shards").iterdir()} == before
    assert json.loads((out / "run.json").read_text())["totals"]["shards_skipped"] == 3


def test_output_loads_with_webdataset_and_datasets(corpus, cli, tmp_path):
    server, rows, expect = corpus
    url_list = tmp_path / "urls.jsonl"
    url_list.write_text("\n".join(json.dumps(r) for r in rows[:30]))
    out = tmp_path / "ds"
    cli("download", "--url-list", str(url_list), "--out", str(out), "--allow-private-network",
        "--shard-size", "16", "--no-progress", check=True)
    meta_keys = set(pq.read_table(out / "metadata").column("key").to_pylist())

    import webdataset as wds

    tars = [str(p) for p in sorted((out / "shards").glob("*.tar"))]
    ds = wds.WebDataset(tars, shardshuffle=False).decode("pil").to_tuple("__key__", "jpg", "txt", "json")
    keys = set()
    for key, image, text, info in ds:
        assert image.size == (info["width"], info["height"]) and text == info["caption"]
        keys.add(key)
    assert keys == meta_keys

    from datasets import load_dataset

    hf = load_dataset("webdataset", data_files={"train": tars}, split="train")
    assert set(hf["__key__"]) == meta_keys
    assert set(hf.column_names) >= {"jpg", "txt", "json"}


def test_private_network_refused_by_default(corpus, cli, tmp_path):
    server, rows, _ = corpus
    url_list = tmp_path / "urls.csv"
    urls = [rows[0]["url"], "http://169.254.169.254/latest/meta-data/", "ftp://example.com/a.jpg",
            "data:image/png;base64,AAAA"]
    url_list.write_text("url,caption\n" + "".join(f'"{u}","{CAPTIONS[0]}"\n' for u in urls))
    out = tmp_path / "ds"
    cli("download", "--url-list", str(url_list), "--out", str(out), "--no-progress", check=True)
    rejects = pq.read_table(out / "rejects").to_pylist()
    assert Counter(r["reason"] for r in rejects) == {"private_network": 2, "bad_scheme": 2}


def test_hand_written_tar_headers_are_tarfiles():
    """The sink's ustar headers are byte-identical to tarfile's, for any size and time."""
    from lgs_crawl.sharder import tar_header

    for name, size, mtime in [("000001000002.json", 12345, 1764100000), ("x.jpg", 0, 0),
                              ("000000000000.webp", 20 * 2**20, 2**33 - 1)]:
        ref = tarfile.TarInfo(name)
        ref.size, ref.mtime, ref.mode = size, mtime, 0o644
        assert tar_header(name, size, mtime) == ref.tobuf(tarfile.USTAR_FORMAT)
