"""Deterministic product-like images: one object on a plain light background, varied in shape,
colour, pattern and placement, so distinct products get distinct perceptual hashes."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter


def product_image(seed: int, width: int = 800, height: int = 800) -> Image.Image:
    rng = random.Random(seed)
    bg = tuple(rng.randint(225, 255) for _ in range(3))
    im = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(im)
    colour = tuple(rng.randint(0, 200) for _ in range(3))
    accent = tuple(rng.randint(0, 255) for _ in range(3))
    cx, cy = width * rng.uniform(0.3, 0.7), height * rng.uniform(0.3, 0.7)
    rx, ry = width * rng.uniform(0.15, 0.35), height * rng.uniform(0.15, 0.35)
    kind = rng.randrange(4)
    box = (cx - rx, cy - ry, cx + rx, cy + ry)
    if kind == 0:
        draw.ellipse(box, fill=colour)
    elif kind == 1:
        draw.rounded_rectangle(box, radius=int(min(rx, ry) * 0.3), fill=colour)
    elif kind == 2:
        pts = [(cx + rx * rng.uniform(-1, 1), cy + ry * rng.uniform(-1, 1)) for _ in range(rng.randint(3, 7))]
        draw.polygon(pts, fill=colour)
    else:
        draw.rectangle((cx - rx, cy - ry * 0.3, cx + rx, cy + ry * 0.3), fill=colour)
        draw.rectangle((cx - rx * 0.3, cy - ry, cx + rx * 0.3, cy + ry), fill=colour)
    # a pattern on the object and a few details, different per seed
    step = rng.randint(8, 40)
    for i in range(int(box[0]), int(box[2]), step):
        if rng.random() < 0.6:
            draw.line((i, box[1], i + rng.randint(-60, 60), box[3]), fill=accent, width=rng.randint(1, 5))
    for _ in range(rng.randint(2, 8)):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(5, width * 0.08)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randint(0, 255) for _ in range(3)))
    return im.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))


def encode(im: Image.Image, fmt: str = "JPEG", **kw: object) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG" and im.mode not in ("RGB", "L", "CMYK"):
        im = im.convert("RGB")
    im.save(buf, fmt, **kw)
    return buf.getvalue()
