"""Near-duplicate index over 64-bit perceptual hashes: multi-index hashing in compact numpy arrays.

phash's top bit (the DCT's DC term against the median) is 1 for practically every image, so it carries
no information; the other 63 bits are split into 3 bands of 21 bits. By pigeonhole, two hashes within
Hamming distance r differ in at most floor(r / 3) bits of at least one band, so a lookup probes, in
each band, every value within that radius (232 values at r = 8) and checks only the hashes filed
there: the cost depends on the radius and the bucket size, not on a scan of the corpus.

Storage per hash: phash and dhash (8 + 8 bytes) and, per band, its position in a counting-sorted
order (3 x 4 bytes): 28 bytes, plus 3 x 8 MB of bucket offsets shared by all. New hashes go to a small
write buffer that is searched by brute force and merged into the sorted part when it grows past a
share of it (amortised O(1) per add). Each phash candidate is confirmed with dhash before it counts.
"""

from __future__ import annotations

from array import array
from itertools import combinations

import numpy as np

BANDS = 3
BAND_BITS = 21
BAND_MASK = (1 << BAND_BITS) - 1


def _masks(bits: int, radius: int) -> np.ndarray:
    out = [0]
    for r in range(1, radius + 1):
        for pos in combinations(range(bits), r):
            out.append(sum(1 << p for p in pos))
    return np.array(out, dtype=np.uint64)


def _bands(h: np.ndarray) -> list[np.ndarray]:
    return [((h >> np.uint64(BAND_BITS * b)) & np.uint64(BAND_MASK)).astype(np.int64) for b in range(BANDS)]


class HammingIndex:
    def __init__(self, radius: int, confirm_radius: int | None = None, merge_share: float = 0.05) -> None:
        if not 0 <= radius <= 16:
            raise ValueError("radius must be within 0..16")
        self.radius, self.confirm_radius, self.merge_share = radius, confirm_radius, merge_share
        self._probe = _masks(BAND_BITS, radius // BANDS)
        self.phash = np.zeros(0, np.uint64)
        self.dhash = np.zeros(0, np.uint64)
        self._order: list[np.ndarray] = [np.zeros(0, np.uint32) for _ in range(BANDS)]
        self._offsets: list[np.ndarray] = [np.zeros(BAND_MASK + 2, np.uint32) for _ in range(BANDS)]
        self._buf_p: list[int] = []
        self._buf_d: list[int] = []
        self.ids = array("q")  # caller's integer id per stored hash (e.g. the numeric sample key)

    def __len__(self) -> int:
        return len(self.phash) + len(self._buf_p)

    @property
    def nbytes(self) -> int:
        return (self.phash.nbytes + self.dhash.nbytes + sum(o.nbytes for o in self._order)
                + sum(o.nbytes for o in self._offsets))

    # -- building --------------------------------------------------------------------------------
    def add(self, phash: int, dhash: int, ident: int = -1) -> None:
        self._buf_p.append(phash)
        self._buf_d.append(dhash)
        self.ids.append(ident)
        if len(self._buf_p) > max(4096, self.merge_share * len(self.phash)):
            self._merge()

    def add_many(self, phash: np.ndarray, dhash: np.ndarray, ids: np.ndarray | None = None) -> None:
        self._merge()
        self.phash = np.concatenate([self.phash, phash.astype(np.uint64)])
        self.dhash = np.concatenate([self.dhash, dhash.astype(np.uint64)])
        start = len(self.ids)
        self.ids.extend(ids.astype(np.int64).tolist() if ids is not None else range(start, start + len(phash)))
        self._rebuild()

    def _merge(self) -> None:
        if not self._buf_p:
            return
        self.phash = np.concatenate([self.phash, np.array(self._buf_p, np.uint64)])
        self.dhash = np.concatenate([self.dhash, np.array(self._buf_d, np.uint64)])
        self._buf_p, self._buf_d = [], []
        self._rebuild()

    def _rebuild(self) -> None:
        for b, values in enumerate(_bands(self.phash)):
            counts = np.bincount(values, minlength=BAND_MASK + 1)
            self._offsets[b] = np.concatenate([[0], np.cumsum(counts)]).astype(np.uint32)
            self._order[b] = np.argsort(values, kind="stable").astype(np.uint32)

    # -- lookups ---------------------------------------------------------------------------------
    def query(self, phash: int, dhash: int) -> tuple[int, int] | None:
        """The closest stored (id, phash distance) within the radius and confirmed by dhash, or None."""
        idx, dist = self.query_many(np.array([phash], np.uint64), np.array([dhash], np.uint64))
        return None if idx[0] < 0 else (self.ids[idx[0]], int(dist[0]))

    def query_many(self, phash: np.ndarray, dhash: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each query: index of the closest confirmed stored hash (-1 if none) and its distance."""
        q = len(phash)
        best = np.full(q, -1, np.int64)
        best_d = np.full(q, 65, np.int64)
        if len(self.phash):
            cand_q, cand_i = self._candidates(phash)
            self._keep_best(phash, dhash, cand_q, cand_i, self.phash, self.dhash, 0, best, best_d)
        if self._buf_p:
            buf_p, buf_d = np.array(self._buf_p, np.uint64), np.array(self._buf_d, np.uint64)
            cand_q = np.repeat(np.arange(q), len(buf_p))
            cand_i = np.tile(np.arange(len(buf_p)), q)
            self._keep_best(phash, dhash, cand_q, cand_i, buf_p, buf_d, len(self.phash), best, best_d)
        return best, np.where(best >= 0, best_d, -1)

    def _candidates(self, phash: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        qs, ids = [], []
        for b, values in enumerate(_bands(phash.astype(np.uint64))):
            keys = (values[:, None] ^ self._probe[None, :].astype(np.int64)).ravel()
            start = self._offsets[b][keys].astype(np.int64)
            count = self._offsets[b][keys + 1].astype(np.int64) - start
            total = int(count.sum())
            if not total:
                continue
            # positions start..start+count-1 for every probed bucket, flattened
            run_start = np.repeat(start - np.concatenate([[0], np.cumsum(count)[:-1]]), count)
            pos = run_start + np.arange(total)
            ids.append(self._order[b][pos].astype(np.int64))
            qs.append(np.repeat(np.repeat(np.arange(len(phash)), len(self._probe)), count))
        if not ids:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(qs), np.concatenate(ids)

    def _keep_best(self, phash: np.ndarray, dhash: np.ndarray, cand_q: np.ndarray, cand_i: np.ndarray,
                   store_p: np.ndarray, store_d: np.ndarray, offset: int, best: np.ndarray,
                   best_d: np.ndarray) -> None:
        if not len(cand_q):
            return
        d = np.bitwise_count(phash[cand_q] ^ store_p[cand_i]).astype(np.int64)
        ok = d <= self.radius
        if self.confirm_radius is not None:
            ok &= np.bitwise_count(dhash[cand_q] ^ store_d[cand_i]) <= self.confirm_radius
        cand_q, cand_i, d = cand_q[ok], cand_i[ok], d[ok]
        if not len(cand_q):
            return
        # closest per query (ties: the earliest stored)
        order = np.lexsort((cand_i, d, cand_q))
        cand_q, cand_i, d = cand_q[order], cand_i[order], d[order]
        first = np.concatenate([[True], cand_q[1:] != cand_q[:-1]])
        for qi, ii, di in zip(cand_q[first], cand_i[first], d[first]):
            if di < best_d[qi]:
                best[qi], best_d[qi] = ii + offset, di

    def earlier_duplicates(self, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
        """Self-join: for every stored hash, the closest confirmed match stored before it (-1 if none)
        and the distance. Used by the global dedup pass over a whole corpus."""
        self._merge()
        n = len(self.phash)
        match = np.full(n, -1, np.int64)
        dist = np.full(n, -1, np.int64)
        for s in range(0, n, chunk):
            e = min(n, s + chunk)
            cand_q, cand_i = self._candidates(self.phash[s:e])
            keep = cand_i < cand_q + s
            cand_q, cand_i = cand_q[keep], cand_i[keep]
            best = np.full(e - s, -1, np.int64)
            best_d = np.full(e - s, 65, np.int64)
            self._keep_best(self.phash[s:e], self.dhash[s:e], cand_q, cand_i, self.phash, self.dhash, 0, best, best_d)
            match[s:e] = best
            dist[s:e] = np.where(best >= 0, best_d, -1)
        return match, dist
