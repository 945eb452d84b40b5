"""Near-duplicate index over 64-bit perceptual hashes: multi-index hashing.

The 64 bits are split into ``bands`` bands. By pigeonhole, two hashes within Hamming distance r agree
within distance floor(r / bands) on at least one band, so a lookup probes each band's table with every
value within that small radius and checks only the candidates found: the cost depends on the radius,
not on how many hashes are stored. Each phash candidate is confirmed with a second, independent hash
(dhash) before it counts as a duplicate, which keeps the false-positive rate low at corpus scale.
"""

from __future__ import annotations

from itertools import combinations


def _masks(bits: int, radius: int) -> list[int]:
    out = [0]
    for r in range(1, radius + 1):
        for pos in combinations(range(bits), r):
            m = 0
            for p in pos:
                m |= 1 << p
            out.append(m)
    return out


class HammingIndex:
    def __init__(self, radius: int, confirm_radius: int | None = None, bands: int = 4) -> None:
        if not 0 <= radius <= 32:
            raise ValueError("radius must be within 0..32")
        self.radius = radius
        self.confirm_radius = confirm_radius
        self.bands = bands
        self.band_bits = 64 // bands
        self._band_mask = (1 << self.band_bits) - 1
        self._probe = _masks(self.band_bits, radius // bands)
        self._tables: list[dict[int, list[int]]] = [{} for _ in range(bands)]
        self._phash: list[int] = []
        self._dhash: list[int] = []
        self._keys: list[str] = []

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, phash: int, dhash: int, key: str) -> None:
        i = len(self._keys)
        self._phash.append(phash)
        self._dhash.append(dhash)
        self._keys.append(key)
        for b, table in enumerate(self._tables):
            table.setdefault((phash >> (b * self.band_bits)) & self._band_mask, []).append(i)

    def query(self, phash: int, dhash: int) -> tuple[str, int] | None:
        """The closest stored (key, phash distance) within the radius and confirmed by dhash, or None."""
        best: tuple[str, int] | None = None
        seen: set[int] = set()
        for b, table in enumerate(self._tables):
            value = (phash >> (b * self.band_bits)) & self._band_mask
            for mask in self._probe:
                ids = table.get(value ^ mask)
                if not ids:
                    continue
                for i in ids:
                    if i in seen:
                        continue
                    seen.add(i)
                    d = (phash ^ self._phash[i]).bit_count()
                    if d > self.radius or (best is not None and d >= best[1]):
                        continue
                    if self.confirm_radius is not None and \
                            (dhash ^ self._dhash[i]).bit_count() > self.confirm_radius:
                        continue
                    best = (self._keys[i], d)
        return best
