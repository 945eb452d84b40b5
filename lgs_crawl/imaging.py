"""Image work for the process pool: decode once at a reduced scale, resize, hash and encode from the
same pixels.

JPEG (nearly every product photo) is decoded by OpenCV straight at the smallest DCT scale that still
covers the output (libjpeg-turbo's scaled IDCT: 1/2, 1/4 or 1/8 of the work of a full decode), and
plain RGB/grey PNG by OpenCV too. Pillow reads the header first (format, size, mode, EXIF) so the
decompression-bomb limit is enforced before any pixel is decoded, and Pillow decodes everything else
(WebP, GIF, palette or alpha PNG, 16-bit, CMYK, truncated files).
Both decoders are libjpeg-turbo with the same settings: at the same scale they give the same pixels
(a test checks), so the fast path and the plain one give the same output and the same hashes.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

_opts: ImageOptions | None = None

# DCT scale -> OpenCV flag; EXIF orientation is applied by us, the same way on both paths
_CV2_SCALE_FLAGS = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
                    8: cv2.IMREAD_REDUCED_COLOR_8}
HASH_THUMB = 64  # phash/dhash are computed on a 64x64 greyscale area-average of the output pixels


@dataclass(frozen=True)
class ImageOptions:
    image_size: int = 256
    resize_mode: str = "keep_ratio"
    format: str = "jpg"
    quality: int = 95
    max_pixels: int = 89_478_485


def init_worker(opts: ImageOptions, owner_pid: int | None = None) -> None:
    """Pool initializer: options once per process instead of once per image; and a watchdog, because a
    pool worker whose run was killed with -9 would otherwise wait on its queue forever."""
    global _opts
    _opts = opts
    if owner_pid is not None:
        import threading

        threading.Thread(target=_exit_with_owner, args=(owner_pid,), daemon=True).start()
    cv2.setNumThreads(1)  # parallelism comes from the pool; OpenCV's own threads would fight it
    Image.MAX_IMAGE_PIXELS = opts.max_pixels
    # A size between the limit and twice the limit only warns in Pillow; treat it as the bomb it is.
    warnings.simplefilter("error", Image.DecompressionBombWarning)


def _exit_with_owner(owner_pid: int) -> None:
    """Exit once the process that owns the pool is gone (or a zombie nobody has reaped yet)."""
    import time

    while True:
        time.sleep(1.0)
        try:
            with open(f"/proc/{owner_pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            os._exit(0)
        if state in ("Z", "X"):
            os._exit(0)


def _target_size(w: int, h: int, opts: ImageOptions) -> tuple[int, int]:
    """Output size for a w x h source (never upscaled)."""
    s = opts.image_size
    if opts.resize_mode == "no":
        return w, h
    if opts.resize_mode in ("keep_ratio", "center_crop"):
        short = min(w, h)
        if short <= s:
            return w, h
        return max(1, round(w * s / short)), max(1, round(h * s / short))
    # border: fit inside s x s
    long = max(w, h)
    if long <= s:
        return w, h
    return max(1, round(w * s / long)), max(1, round(h * s / long))


def dct_scale(w: int, h: int, need_w: int, need_h: int) -> int:
    """The largest JPEG DCT scale (8, 4, 2, 1) whose decode still covers need_w x need_h; the rule
    Pillow's ``draft()`` uses, so both decoders pick the same scale."""
    ratio = min(w // max(need_w, 1), h // max(need_h, 1))
    return next(s for s in (8, 4, 2, 1) if ratio >= s)


def _orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """EXIF orientation on an array, as Pillow's ImageOps.exif_transpose does it."""
    if orientation == 2:
        return a[:, ::-1]
    if orientation == 3:
        return a[::-1, ::-1]
    if orientation == 4:
        return a[::-1]
    if orientation == 5:
        return a.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(a, -1)
    if orientation == 7:
        return a[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(a)
    return a


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: scale to 8 bits instead of clipping at 255
        im = im.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("RGBA", "LA", "PA"):
        im = im.convert("RGBA")
        bg = Image.new("RGB", im.size, (255, 255, 255))
        bg.paste(im, mask=im.getchannel("A"))
        return bg
    return im.convert("RGB")


def _dct_matrix(n: int) -> np.ndarray:
    """scipy.fftpack.dct type II (norm=None) as a matrix: y = C @ x."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    return 2.0 * np.cos(np.pi * k * (2 * i + 1) / (2 * n))


_DCT32 = _dct_matrix(32)
_BIT_WEIGHTS = 1 << np.arange(63, -1, -1, dtype=np.uint64)


def _bits_hex(bits: np.ndarray) -> str:
    """Row-major bits, most significant first: the same hex string as str(imagehash.ImageHash)."""
    return f"{int(np.bitwise_or.reduce(_BIT_WEIGHTS[bits.ravel()])):016x}" if bits.any() else "0" * 16


def hash_thumbnail(bgr: np.ndarray) -> Image.Image:
    """The pixels the hashes are computed from: greyscale, area-averaged to 64x64."""
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    return Image.fromarray(cv2.resize(grey, (HASH_THUMB, HASH_THUMB), interpolation=cv2.INTER_AREA))


def image_hashes(thumb: Image.Image) -> tuple[str, str]:
    """(phash, dhash) exactly as imagehash.phash / imagehash.dhash (hash_size 8) compute them on
    ``thumb``: LANCZOS to 32x32 (phash: DCT, top-left 8x8 against its median) and 9x8 (dhash: left <
    right). One greyscale image and a DCT as two small matrix products; tests check the hashes are
    imagehash's."""
    grey = thumb.convert("L")
    small = np.asarray(grey.resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    dct = (_DCT32 @ small @ _DCT32.T)[:8, :8]
    phash = _bits_hex(dct > np.median(dct))
    d = np.asarray(grey.resize((9, 8), Image.Resampling.LANCZOS), dtype=np.int16)
    dhash = _bits_hex(d[:, 1:] > d[:, :-1])
    return phash, dhash


def chroma_signature(bgr: np.ndarray) -> str:
    """Mean Cr and Cb of the four central cells of a 4x4 grid (8 bytes, hex): the colour of the middle
    of the picture, where the product is, little diluted by the background. phash and dhash see only
    greyscale structure; two different products of one shape and layout differ here."""
    grid = cv2.cvtColor(cv2.resize(bgr, (4, 4), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2YCrCb)
    return grid[1:3, 1:3, 1:].tobytes().hex()


def _frame(a: np.ndarray, opts: ImageOptions) -> np.ndarray:
    """center_crop and border modes, applied to the already resized pixels."""
    th, tw = a.shape[:2]
    s = opts.image_size
    if opts.resize_mode == "center_crop" and (tw > s or th > s):
        left, top = (tw - min(tw, s)) // 2, (th - min(th, s)) // 2
        a = a[top:top + min(th, s), left:left + min(tw, s)]
    elif opts.resize_mode == "border" and (tw, th) != (s, s):
        canvas = np.full((s, s, 3), 255, np.uint8)
        top, left = (s - th) // 2, (s - tw) // 2
        canvas[top:top + th, left:left + tw] = a
        a = canvas
    return a


def _complete(data: bytes, fmt: str) -> bool:
    """A JPEG that ends with its EOI marker, a PNG with its IEND chunk. OpenCV fills a truncated JPEG
    with grey and carries on; anything else goes to Pillow, which reports it as truncated."""
    if fmt == "PNG":
        return data[-12:] == b"\0\0\0\0IEND\xaeB`\x82"
    return data.rstrip(b"\0\r\n ")[-2:] == b"\xff\xd9"


def decode(data: bytes, opts: ImageOptions, out: dict[str, Any], fast: bool = True) -> np.ndarray:
    """Decode to BGR pixels at the smallest scale that covers the output (and the hash thumbnail),
    upright. Sets format and original size in ``out``; raises on bad input (caller maps the error)."""
    im = Image.open(io.BytesIO(data))  # header only
    out["image_format"] = im.format or ""
    w0, h0 = im.size
    if w0 * h0 > opts.max_pixels:
        raise Image.DecompressionBombError(f"{w0}x{h0}")
    # a PNG's EXIF may follow its pixels, and Pillow decodes the whole image to look: only an eXIf
    # chunk seen in the header counts (the usual place; a late one is ignored)
    orientation = 1 if im.format == "PNG" and "exif" not in im.info else im.getexif().get(0x0112, 1)
    if orientation not in range(1, 9):
        orientation = 1
    swap = orientation in (5, 6, 7, 8)
    ow, oh = (h0, w0) if swap else (w0, h0)  # original size after EXIF rotation, at full scale
    out["original_width"], out["original_height"] = ow, oh
    tw, th = _target_size(ow, oh, opts)
    need_w, need_h = max(tw, HASH_THUMB), max(th, HASH_THUMB)
    if swap:
        need_w, need_h = need_h, need_w
    scale = 1
    if im.format == "JPEG" and opts.resize_mode != "no":
        scale = dct_scale(w0, h0, need_w, need_h)
    # OpenCV for plain 8-bit RGB/grey JPEG and PNG (no palette, alpha or transparency key)
    if fast and im.format in ("JPEG", "PNG") and im.mode in ("RGB", "L") and "transparency" not in im.info \
            and _complete(data, im.format):
        a = cv2.imdecode(np.frombuffer(data, np.uint8), _CV2_SCALE_FLAGS[scale] | cv2.IMREAD_IGNORE_ORIENTATION)
        if a is not None:
            return _orient(a, orientation)
    if scale > 1:
        im.draft("RGB", (need_w, need_h))
    im.load()  # animated GIF/WebP: the first frame, which Pillow opens on
    rgb = np.asarray(_to_rgb(im))
    return _orient(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), orientation)


def resize(a: np.ndarray, tw: int, th: int) -> np.ndarray:
    """Halve with a Gaussian pyramid step while the image is twice the target or more (what a JPEG's
    scaled decode does for JPEG; 2.5x cheaper than one area resize of a large PNG), then bilinear for
    the last step under 2x."""
    while a.shape[1] >= 2 * tw and a.shape[0] >= 2 * th:
        a = cv2.pyrDown(a)
    h, w = a.shape[:2]
    if (w, h) == (tw, th):
        return a
    interpolation = cv2.INTER_AREA if w >= 2 * tw or h >= 2 * th else cv2.INTER_LINEAR
    return cv2.resize(a, (tw, th), interpolation=interpolation)


def encode(a: np.ndarray, opts: ImageOptions) -> bytes:
    if opts.format == "jpg":
        ok, buf = cv2.imencode(".jpg", a, [cv2.IMWRITE_JPEG_QUALITY, opts.quality])
        if not ok:
            raise ValueError("JPEG encoding failed")
        return buf.tobytes()
    rgb = Image.fromarray(np.ascontiguousarray(a[:, :, ::-1]))
    out = io.BytesIO()
    if opts.format == "webp":
        rgb.save(out, "WEBP", quality=opts.quality)
    else:
        rgb.save(out, "PNG", compress_level=6)
    return out.getvalue()


def process_image(data: bytes, opts: ImageOptions | None = None, fast: bool = True) -> dict[str, Any]:
    """Decode, validate, hash, resize and encode one image. Never raises: errors come back as fields.
    ``fast=False`` decodes every format with Pillow (the plain path the tests compare against)."""
    opts = opts or _opts or ImageOptions()
    out: dict[str, Any] = {"sha256": hashlib.sha256(data).hexdigest(), "source_bytes": len(data)}
    if not data:
        out.update(image_error="empty_body")
        return out
    try:
        a = decode(data, opts, out, fast)
        a = resize(a, *_target_size(out["original_width"], out["original_height"], opts))
        # hashes from the resized (never cropped or padded) pixels: the same content, far fewer pixels
        out["phash"], out["dhash"] = image_hashes(hash_thumbnail(a))
        out["chroma"] = chroma_signature(a)
        a = _frame(a, opts)
        out.update(image=encode(a, opts), image_ext=opts.format, width=a.shape[1], height=a.shape[0])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        out.update(image_error="decompression_bomb", image_error_detail=str(e)[:200])
    except UnidentifiedImageError:
        out.update(image_error="not_an_image", image_error_detail=data[:16].hex())
    except (OSError, SyntaxError, ValueError, EOFError, cv2.error) as e:
        msg = str(e)
        reason = "truncated_image" if "truncated" in msg else "decode_error"
        out.update(image_error=reason, image_error_detail=msg[:200])
    except Exception as e:  # a decoder bug on hostile input must not kill the worker
        out.update(image_error="decode_error", image_error_detail=f"{type(e).__name__}: {e}"[:200])
    return out


def process_images(bodies: list[bytes]) -> list[dict[str, Any]]:
    """A batch for one pool round trip."""
    return [process_image(body) for body in bodies]
