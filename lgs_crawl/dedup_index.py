"""Near-duplicate index over 64-bit perceptual hashes: multi-index hashing in compact numpy arrays.

phash's top bit (the DCT's DC term against the median) is 1 for practically every image, so it carries
no information; the other 63 bits are split into 3 bands of 21 bits. By pigeonhole, two hashes within
Hamming distance r differ in at most floor(r / 3) bits of at least one band, so a lookup probes, in
each band, every value within that radius (232 values at r = 8) and checks only the hashes filed
there: the cost depends on the radius and the bucket size, not on a scan of the corpus.

Every phash candidate within the radius must pass the confirmations before it counts: dhash within
``confirm_radius`` bits and the chroma signature within ``chroma_tolerance`` levels (see
imaging.chroma_signature). phash and dhash both describe greyscale structure; the chroma check is the
independent one that catches two different products of the same shape.

Storage, in insertion order (a stored hash's id is its position): phash, dhash and chroma (8 bytes
each; a check that is off stores nothing) and, per band, the positions sorted by band value (3 x 4
bytes), plus 3 x 8 MB of bucket offsets shared by all: 38.5 bytes a hash at 10M with both checks,
30.5 with dhash alone. New hashes go to a write buffer searched by brute force and merged into the
bands (np.insert: one memory move per band, no re-sort) when it fills.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

BANDS = 3
BAND_BITS = 21
BAND_KEYS = 1 << BAND_BITS
BUFFER = 4096  # merging costs ~15 ms (offsets); searching the buffer ~10 us a lookup
NO_MATCH = -1


def _masks(bits: int, radius: int) -> np.ndarray:
    out = [0]
    for r in range(1, radius + 1):
        for pos in combinations(range(bits), r):
            out.append(sum(1 << p for p in pos))
    return np.array(out, dtype=np.int64)


def _band(h: np.ndarray, b: int) -> np.ndarray:
    return ((h >> np.uint64(BAND_BITS * b)) & np.uint64(BAND_KEYS - 1)).astype(np.int64)


def chroma_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Largest difference, in 8-bit levels, between two packed chroma signatures (8 bytes each)."""
    da = a.view(np.uint8).reshape(-1, 8).astype(np.int16)
    db = b.view(np.uint8).reshape(-1, 8).astype(np.int16)
    return np.abs(da - db).max(axis=1)


class _Column:
    """A growable uint64 array (grows by a quarter, so at most 25 % slack). A column the index does not
    check stays empty and holds no memory."""

    def __init__(self, used: bool = True) -> None:
        self.used = used
        self.data = np.zeros(1024 if used else 0, np.uint64)

    def put(self, at: int, values: np.ndarray) -> None:
        if not self.used:
            return
        end = at + len(values)
        if end > len(self.data):
            grown = np.zeros(max(end, len(self.data) + len(self.data) // 4), np.uint64)
            grown[:at] = self.data[:at]
            self.data = grown
        self.data[at:end] = values


class HammingIndex:
    def __init__(self, radius: int, confirm_radius: int | None = None, chroma_tolerance: int | None = None) -> None:
        if not 0 <= radius <= 16:
            raise ValueError("radius must be within 0..16")
        self.radius, self.confirm_radius, self.chroma_tolerance = radius, confirm_radius, chroma_tolerance
        self._probe = _masks(BAND_BITS, radius // BANDS)
        self._phash = _Column()
        self._dhash, self._chroma = _Column(confirm_radius is not None), _Column(chroma_tolerance is not None)
        self._n = 0  # stored hashes
        self._banded = 0  # hashes [0, _banded) are in the band tables; the rest is the write buffer
        # band b's ids, sorted by band value, are _order[b * _banded:(b + 1) * _banded]; one flat array
        # so that a lookup gathers from all bands in one pass
        self._order = np.zeros(0, np.uint32)
        self._offsets = np.zeros((BANDS, BAND_KEYS + 1), np.uint32)
        self._band_shift = np.array([BAND_BITS * b for b in range(BANDS)], np.uint64)[:, None]
        self._key_base = np.arange(BANDS, dtype=np.int64)[:, None] * (BAND_KEYS + 1)

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        """RAM held, allocated slack included."""
        return (self._phash.data.nbytes + self._dhash.data.nbytes + self._chroma.data.nbytes
                + self._order.nbytes + self._offsets.nbytes)

    @property
    def chroma_nbytes(self) -> int:
        """RAM held by the chroma column (what turning the colour check off saves)."""
        return self._chroma.data.nbytes

    @property
    def phash(self) -> np.ndarray:
        return self._phash.data[:self._n]

    # -- building --------------------------------------------------------------------------------
    def add(self, phash: int, dhash: int = 0, chroma: int = 0) -> int:
        """Store one hash; returns its id (its position)."""
        return self.add_many(np.array([phash], np.uint64), np.array([dhash], np.uint64),
                             np.array([chroma], np.uint64))

    def add_many(self, phash: np.ndarray, dhash: np.ndarray | None = None, chroma: np.ndarray | None = None) -> int:
        """Store hashes in order; returns the id of the first."""
        first, k = self._n, len(phash)
        zeros = np.zeros(k, np.uint64)
        self._phash.put(first, phash.astype(np.uint64))
        self._dhash.put(first, zeros if dhash is None else dhash.astype(np.uint64))
        self._chroma.put(first, zeros if chroma is None else chroma.astype(np.uint64))
        self._n += k
        if self._n - self._banded >= BUFFER:
            self._merge()
        return first

    def _merge(self) -> None:
        start, end = self._banded, self._n
        if start == end:
            return
        new_ids = np.arange(start, end, dtype=np.uint32)
        orders = []
        for b in range(BANDS):
            if end - start > start // 4:  # bulk: re-sort everything (a counting sort's order)
                keys = _band(self._phash.data[:end], b)
                orders.append(np.argsort(keys, kind="stable").astype(np.uint32))
                self._offsets[b, 1:] = np.cumsum(np.bincount(keys, minlength=BAND_KEYS))
                continue
            keys = _band(self._phash.data[start:end], b)
            by_key = np.argsort(keys, kind="stable")
            keys = keys[by_key]
            # file each new id at the end of its bucket: ids stay in insertion order within a bucket
            at = self._offsets[b, keys + 1].astype(np.int64)
            orders.append(np.insert(self._order[b * start:(b + 1) * start], at, new_ids[by_key]))
            self._offsets[b, 1:] += np.cumsum(np.bincount(keys, minlength=BAND_KEYS)).astype(np.uint32)
        self._order = np.concatenate(orders)
        self._banded = end

    # -- lookups ---------------------------------------------------------------------------------
    def query(self, phash: int, dhash: int = 0, chroma: int = 0) -> tuple[int, int] | None:
        """The closest confirmed stored hash (id, phash distance) within the radius, or None."""
        ids, dist = self.query_many(np.array([phash], np.uint64), np.array([dhash], np.uint64),
                                    np.array([chroma], np.uint64))
        return None if ids[0] == NO_MATCH else (int(ids[0]), int(dist[0]))

    def query_many(self, phash: np.ndarray, dhash: np.ndarray | None = None,
                   chroma: np.ndarray | None = None, before: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per query: id of the closest confirmed stored hash (NO_MATCH if none) and its distance
        (-1). ``before``: per query, only ids below it count (the self-join's "earlier")."""
        phash = phash.astype(np.uint64)
        zeros = np.zeros(len(phash), np.uint64)
        dhash = zeros if dhash is None else dhash.astype(np.uint64)
        chroma = zeros if chroma is None else chroma.astype(np.uint64)
        cand_q, cand_i = self._banded_candidates(phash)
        if self._n > self._banded:  # the write buffer, by brute force
            near = np.bitwise_count(phash[:, None] ^ self._phash.data[None, self._banded:self._n]) <= self.radius
            buf_q, buf_i = np.nonzero(near)
            cand_q = np.concatenate([cand_q, buf_q])
            cand_i = np.concatenate([cand_i, buf_i + self._banded])
        if before is not None:
            keep = cand_i < before[cand_q]
            cand_q, cand_i = cand_q[keep], cand_i[keep]
        return self._closest(len(phash), cand_q, cand_i, phash, dhash, chroma)

    def _banded_candidates(self, phash: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query index, stored id) for every stored hash sharing a probed bucket with a query."""
        if not self._banded:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        n_probe = len(self._probe)
        # keys[q, b, p]: query q's band b value with probe p's bits flipped, as a flat offsets index
        bands = ((phash[:, None] >> self._band_shift.T) & np.uint64(BAND_KEYS - 1)).astype(np.int64)
        keys = ((bands[:, :, None] ^ self._probe[None, None, :]) + self._key_base[None]).ravel()
        offsets = self._offsets.ravel()
        start = offsets[keys]
        count = offsets[keys + 1] - start
        hit = np.flatnonzero(count)
        if not len(hit):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        count = count[hit].astype(np.int64)
        band = (hit // n_probe) % BANDS
        start = start[hit].astype(np.int64) + band * self._banded
        # positions start..start+count-1 of every non-empty probed bucket, flattened
        ends = np.cumsum(count)
        pos = np.repeat(start - (ends - count), count) + np.arange(int(ends[-1]))
        return np.repeat(hit // (n_probe * BANDS), count), self._order[pos].astype(np.int64)

    def _closest(self, n: int, cand_q: np.ndarray, cand_i: np.ndarray, phash: np.ndarray, dhash: np.ndarray,
                 chroma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        best = np.full(n, NO_MATCH, np.int64)
        best_d = np.full(n, -1, np.int64)
        d = np.bitwise_count(phash[cand_q] ^ self._phash.data[cand_i])
        ok = np.flatnonzero(d <= self.radius)
        cand_q, cand_i, d = cand_q[ok], cand_i[ok], d[ok]
        if self.confirm_radius is not None and len(ok):
            ok = np.bitwise_count(dhash[cand_q] ^ self._dhash.data[cand_i]) <= self.confirm_radius
            cand_q, cand_i, d = cand_q[ok], cand_i[ok], d[ok]
        if self.chroma_tolerance is not None and len(cand_q):
            ok = chroma_distance(chroma[cand_q], self._chroma.data[cand_i]) <= self.chroma_tolerance
            cand_q, cand_i, d = cand_q[ok], cand_i[ok], d[ok]
        if len(cand_q):
            # closest per query; ties: the earliest stored
            order = np.lexsort((cand_i, d, cand_q))
            cand_q, cand_i, d = cand_q[order], cand_i[order], d[order]
            first = np.flatnonzero(np.concatenate([[True], cand_q[1:] != cand_q[:-1]]))
            best[cand_q[first]] = cand_i[first]
            best_d[cand_q[first]] = d[first]
        return best, best_d

    def pairs_within_radius(self, chunk: int = 8192) -> np.ndarray:
        """Every pair (i, j), j < i, of stored hashes within the phash radius (no confirmations), as a
        2 x K array, each pair once: an exact enumeration, for measuring rates over all pairs."""
        self._merge()
        phash = self._phash.data[:self._n]
        found = [np.zeros((2, 0), np.int64)]
        for s in range(0, self._n, chunk):
            cand_q, cand_i = self._banded_candidates(phash[s:s + chunk])
            cand_q = cand_q + s
            keep = (cand_i < cand_q) & (np.bitwise_count(phash[cand_q] ^ phash[cand_i]) <= self.radius)
            found.append(np.stack([cand_q[keep], cand_i[keep]]))
        return np.unique(np.concatenate(found, axis=1), axis=1)  # a pair can share several bands

    def earlier_duplicates(self, chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
        """Self-join: for every stored hash, the closest confirmed match stored before it (NO_MATCH if
        none) and the distance. Used by the global dedup pass over a whole corpus."""
        self._merge()
        match = np.full(self._n, NO_MATCH, np.int64)
        dist = np.full(self._n, -1, np.int64)
        for s in range(0, self._n, chunk):
            e = min(self._n, s + chunk)
            match[s:e], dist[s:e] = self.query_many(self._phash.data[s:e], self._dhash.data[s:e],
                                                    self._chroma.data[s:e], before=np.arange(s, e))
        return match, dist


class ExactIndex:
    """Exact duplicates by source bytes in 12 bytes a sample: the first 8 bytes of each sha256, kept
    sorted with their ids (insertion positions). New ones wait in a small dict and are merged with
    np.insert (one memory move, no re-sort). A dict of hex digests cost ~270 bytes a sample."""

    def __init__(self) -> None:
        self._values = np.zeros(0, np.uint64)  # sorted prefixes
        self._ids = np.zeros(0, np.uint32)  # id of each, in the same order
        self._buffer: dict[int, int] = {}  # prefix -> earliest id, not merged yet
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        return self._values.nbytes + self._ids.nbytes

    @staticmethod
    def prefix(sha256_hex: str) -> int:
        return int(sha256_hex[:16], 16)

    def add(self, prefix: int) -> int:
        ident = self._n
        self._buffer.setdefault(prefix, ident)
        self._n += 1
        if len(self._buffer) >= BUFFER:
            new = np.array(sorted(self._buffer.items()), np.uint64).reshape(-1, 2)
            at = np.searchsorted(self._values, new[:, 0], side="right")  # after equal ones: earliest first
            self._values = np.insert(self._values, at, new[:, 0])
            self._ids = np.insert(self._ids, at, new[:, 1].astype(np.uint32))
            self._buffer = {}
        return ident

    def find(self, prefix: int) -> int:
        """The earliest id stored with this prefix, or NO_MATCH."""
        i = int(np.searchsorted(self._values, np.uint64(prefix)))
        if i < len(self._values) and int(self._values[i]) == prefix:
            return int(self._ids[i])
        return self._buffer.get(prefix, NO_MATCH)
