"""The Bloom filter beside each sorted bucket file, on real band keys: it never drops a key it holds (a dropped key
would hide a near copy, and with it money), and it lets through few of the keys it does not hold (what makes a
lookup read less of an index on disk)."""

from __future__ import annotations

import numpy as np

from conftest import corpus
from onett_domain.credit import bucket_index, key_filter
from onett_text import minhash


def _keys(texts: list[str]) -> np.ndarray:
    """The band keys of texts, as one shard of the index holds them (one value of the low bits)."""
    sigs, eligible = minhash.signatures(texts)
    keys = np.unique(minhash.band_keys(sigs[eligible]).reshape(-1))
    return keys[(keys & (bucket_index.SHARDS - 1)) == 3]


def test_the_filter_holds_every_key_added_and_passes_few_others():
    held = _keys([d["text"] for d in corpus("ko_petitions", "petitions.jsonl.gz")])
    others = np.setdiff1d(_keys([d["text"] for d in corpus("ko_court_precedents", "precedents.jsonl.gz")]), held)
    assert len(held) > 10_000 and len(others) > 10_000
    words = key_filter.empty(len(held))
    assert words.nbytes * 8 == -(-len(held) * key_filter.BITS // 64) * 64  # BITS bits a key
    for start in range(0, len(held), 4096):  # added a chunk at a time, as a merge does
        key_filter.add(words, held[start:start + 4096])
    assert key_filter.may_hold(words, held).all()
    passed = key_filter.may_hold(words, others).mean()
    assert passed < 0.01, passed
    assert key_filter.may_hold(words, others).any() or len(others) < 1000  # a filter, not an exact set
