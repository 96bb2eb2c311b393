"""A Bloom filter of 64-bit keys in one numpy array, so a lookup in a large sorted file searches it only for the
keys it may hold: most of a new submission's band buckets match nothing in the pool, and probing the filter (BITS
bits a key, a quarter of the size of the keys alone) costs one memory access where a binary search costs dozens.

Blocked: a key's PROBES bits sit in one 64-bit word, so adding and probing touch one word per key (vectorised as
one gather or one `bitwise_or.at`). With 16 bits a key about half a percent of absent keys pass (measured in
tests/domain/test_key_filter.py); a present key always passes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BITS = 16  # bits of filter per key
PROBES = 5  # bits set per key, in one word

_C1, _C2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def words_for(keys: int) -> int:
    """The filter's size, in 64-bit words, for this many keys."""
    return max(1, -(-keys * BITS // 64))


def empty(keys: int) -> np.ndarray:
    return np.zeros(words_for(keys), dtype=np.uint64)


def add(words: np.ndarray, keys: np.ndarray) -> None:
    """Sets the bits of `keys` (int64 or uint64) in `words`, in place."""
    mixed = mix(keys)
    np.bitwise_or.at(words, _words(mixed, len(words)), mixed.mask)


def may_hold(words: np.ndarray, keys: np.ndarray | Mixed) -> np.ndarray:
    """A boolean per key: False only where the filter surely does not hold it."""
    mixed = keys if isinstance(keys, Mixed) else mix(keys)
    return (np.asarray(words[_words(mixed, len(words))]) & mixed.mask) == mixed.mask


@dataclass(frozen=True)
class Mixed:
    """Keys mixed for probing, independent of any filter's size: a lookup probes every file of a shard with the
    same keys, and mixes them once."""

    high: np.ndarray  # the high half of each mixed key, which picks its word
    mask: np.ndarray  # its PROBES bits in that word

    def __len__(self) -> int:
        return len(self.high)


def mix(keys: np.ndarray) -> Mixed:
    """The keys' splitmix64 finalisation: band keys are hashes already, but a file's keys share their low bits (its
    shard), so they are mixed again before any bits are taken."""
    z = np.asarray(keys).astype(np.uint64, copy=True)
    z ^= z >> np.uint64(30)
    z *= _C1
    z ^= z >> np.uint64(27)
    z *= _C2
    z ^= z >> np.uint64(31)
    mask = np.zeros(len(z), dtype=np.uint64)
    for probe in range(PROBES):
        mask |= np.uint64(1) << ((z >> np.uint64(6 * probe)) & np.uint64(63))
    return Mixed(z >> np.uint64(32), mask)


def _words(mixed: Mixed, count: int) -> np.ndarray:
    """Each key's word of a filter of `count` words: its high half scaled to [0, count)."""
    return ((mixed.high * np.uint64(count)) >> np.uint64(32)).astype(np.intp)
