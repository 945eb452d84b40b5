"""Image work for the process pool: decode once, hash and resize from the same pixels, encode.

A JPEG is opened with Pillow's ``draft()`` at the smallest DCT scale that still covers the output size
(and phash's 32x32 input), which makes decoding several times cheaper than a full-size decode and gives
the same perceptual hashes.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

_opts: ImageOptions | None = None


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


def _bits_hex(bits: np.ndarray) -> str:
    """Row-major bits, most significant first: the same hex string as str(imagehash.ImageHash)."""
    return f"{int(''.join('1' if b else '0' for b in bits.flatten()), 2):016x}"


def image_hashes(im: Image.Image) -> tuple[str, str]:
    """(phash, dhash) as imagehash.phash / imagehash.dhash compute them (hash_size 8): greyscale,
    LANCZOS to 32x32 (phash: DCT, top-left 8x8 against its median) and 9x8 (dhash: left < right).
    Done with one greyscale conversion and a DCT as two small matrix products, several times
    faster than calling imagehash twice; tests check the hashes are identical."""
    grey = im.convert("L")
    small = np.asarray(grey.resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    dct = (_DCT32 @ small @ _DCT32.T)[:8, :8]
    phash = _bits_hex(dct > np.median(dct))
    d = np.asarray(grey.resize((9, 8), Image.Resampling.LANCZOS), dtype=np.int16)
    dhash = _bits_hex(d[:, 1:] > d[:, :-1])
    return phash, dhash


def _frame(im: Image.Image, opts: ImageOptions) -> Image.Image:
    """center_crop and border modes, applied to the already resized image."""
    tw, th = im.size
    s = opts.image_size
    if opts.resize_mode == "center_crop" and (tw > s or th > s):
        left, top = (tw - min(tw, s)) // 2, (th - min(th, s)) // 2
        im = im.crop((left, top, left + min(tw, s), top + min(th, s)))
    elif opts.resize_mode == "border" and (tw, th) != (s, s):
        canvas = Image.new("RGB", (s, s), (255, 255, 255))
        canvas.paste(im, ((s - tw) // 2, (s - th) // 2))
        im = canvas
    return im


def process_image(data: bytes, opts: ImageOptions | None = None) -> dict[str, Any]:
    """Decode, validate, hash, resize and encode one image. Never raises: errors come back as fields."""
    opts = opts or _opts or ImageOptions()
    out: dict[str, Any] = {"sha256": hashlib.sha256(data).hexdigest(), "source_bytes": len(data)}
    if not data:
        out.update(image_error="empty_body")
        return out
    try:
        im = Image.open(io.BytesIO(data))
        out["image_format"] = im.format or ""
        w0, h0 = im.size
        if w0 * h0 > opts.max_pixels:
            out.update(image_error="decompression_bomb", image_error_detail=f"{w0}x{h0}")
            return out
        if im.format == "JPEG" and opts.resize_mode != "no":
            tw, th = _target_size(w0, h0, opts)
            im.draft("RGB", (max(tw, 32), max(th, 32)))
        orientation = im.getexif().get(0x0112, 1)
        im.load()  # animated GIF/WebP: the first frame, which Pillow opens on
        im = ImageOps.exif_transpose(im)
        # original size after EXIF rotation, at full scale (draft may have reduced the decoded pixels)
        ow, oh = (h0, w0) if orientation in (5, 6, 7, 8) else (w0, h0)
        out["original_width"], out["original_height"] = ow, oh
        im = _to_rgb(im)
        tw, th = _target_size(ow, oh, opts)
        if (tw, th) != im.size:
            im = im.resize((tw, th), Image.Resampling.BICUBIC, reducing_gap=3.0)
        # hashes from the resized (never cropped or padded) pixels: the same content, far fewer pixels
        out["phash"], out["dhash"] = image_hashes(im)
        im = _frame(im, opts)
        buf = io.BytesIO()
        if opts.format == "jpg":
            im.save(buf, "JPEG", quality=opts.quality)
        elif opts.format == "webp":
            im.save(buf, "WEBP", quality=opts.quality)
        else:
            im.save(buf, "PNG", compress_level=6)
        out.update(image=buf.getvalue(), image_ext=opts.format, width=im.size[0], height=im.size[1])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        out.update(image_error="decompression_bomb", image_error_detail=str(e)[:200])
    except UnidentifiedImageError:
        out.update(image_error="not_an_image", image_error_detail=data[:16].hex())
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        msg = str(e)
        reason = "truncated_image" if "truncated" in msg else "decode_error"
        out.update(image_error=reason, image_error_detail=msg[:200])
    except Exception as e:  # a decoder bug on hostile input must not kill the worker
        out.update(image_error="decode_error", image_error_detail=f"{type(e).__name__}: {e}"[:200])
    return out
