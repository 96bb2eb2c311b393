"""Sets of 64-bit keys (hashes of words, word classes), looked up and deduplicated with numpy, no Python loop per
key: the word lists of the quality rules and the word-order tables are looked up this way."""

from __future__ import annotations

import numpy as np

_SPREAD = np.uint64(0x9E3779B97F4A7C15)


def distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For 64-bit values (hashes): positions of one occurrence of each distinct value, and for every value the
    index of its occurrence among those. One sort of the values' top bits packed above their positions (cheaper
    than np.unique); a value whose top bits another value shares may get two occurrences (rare, harmless)."""
    n = len(values)
    if not n:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    bits = np.uint64(max(1, (n - 1).bit_length()))
    spread = values * _SPREAD  # an odd multiplier is one-to-one and carries low-bit differences up to the top bits
    packed = np.sort(((spread >> bits) << bits) | np.arange(n, dtype=np.uint64))
    pos = (packed & ((np.uint64(1) << bits) - np.uint64(1))).astype(np.int64)
    value = spread[pos]
    new = np.empty(n, bool)
    new[0] = True
    np.not_equal(value[1:], value[:-1], out=new[1:])
    occurrence = np.empty(n, np.int64)
    occurrence[pos] = np.cumsum(new) - 1
    return pos[new], occurrence


class Lookup:
    """Exact membership and row lookup for a small set of 64-bit keys, vectorized: a collision-free
    multiplicative hash into a power-of-two table (the multiplier is searched once, deterministically)."""

    def __init__(self, keys: np.ndarray, rows: np.ndarray | None = None, bits: int | None = None):
        keys = np.asarray(keys, np.uint64)
        rows = np.arange(len(keys)) if rows is None else np.asarray(rows)
        bits = bits or max(8, int(np.ceil(np.log2(max(len(keys), 1)))) + 6)
        rng = np.random.default_rng(12345)
        for _ in range(10_000):
            mult = rng.integers(1 << 62, 1 << 63, dtype=np.uint64) | np.uint64(1)
            slot = (keys * mult) >> np.uint64(64 - bits)
            if len(np.unique(slot)) == len(keys):
                break
        else:  # pragma: no cover - with 64x more slots than keys a multiplier is found within a few tries
            raise RuntimeError("no collision-free multiplier")
        self.mult, self.shift = mult, np.uint64(64 - bits)
        self.keys = np.zeros(1 << bits, np.uint64)
        self.rows = np.full(1 << bits, -1, np.int64)
        # slot 0 of an empty table must not match key 0 by accident
        self.keys[:] = np.uint64(0xFFFFFFFFFFFFFFFF)
        self.keys[slot] = keys
        self.rows[slot] = rows

    def _slot(self, values: np.ndarray) -> np.ndarray:
        # as int64 (the slots are small): numpy converts an unsigned index array before every gather
        return ((np.asarray(values, np.uint64) * self.mult) >> self.shift).view(np.int64)

    def row(self, values: np.ndarray, default: int = -1) -> np.ndarray:
        slot = self._slot(values)
        found = np.take(self.keys, slot) == values
        return np.where(found, np.take(self.rows, slot), default)

    def contains(self, values: np.ndarray) -> np.ndarray:
        return np.take(self.keys, self._slot(values)) == values
