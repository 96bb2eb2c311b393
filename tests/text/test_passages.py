"""Passages and winnowed spans on real text: passages add up to the tokens, a copied paragraph is keyed the same
wherever it lands, K-gram hashes equal the definition, and every long enough shared span keeps a fingerprint."""

from __future__ import annotations

import random

import numpy as np

from conftest import corpus
from onett_text import passages
from onett_text.passages import GUARANTEED_SPAN, K, W

ENC = "cl100k_base"


def court(limit: int = 80) -> list[str]:
    return [d["text"] for d in corpus("ko_court_precedents", "precedents.jsonl.gz", limit=limit)]


def test_passages_add_up_to_the_tokens_and_ids_are_the_tokenizer_s():
    from onett_text.tokens import count_tokens

    texts = court() + [d["text"] for d in corpus("en_moby_dick", "moby_dick_chapters.jsonl.gz", limit=20)]
    texts += ["", "짧은 글.", "<|endoftext|> is plain text here"]
    for text in texts:
        ids = passages.encode(text, ENC)
        assert len(ids) == count_tokens([text], ENC)[0]
        keys, tokens = passages.passages(text, ids, ENC)
        assert len(keys) == len(tokens) and int(tokens.sum()) == len(ids)
        if len(ids) >= 200:
            assert len(keys) > 1  # long prose is cut


def test_a_copied_paragraph_is_keyed_the_same_in_another_document():
    texts = court(40)
    for source, host in zip(texts[:20], texts[20:40]):
        paragraphs = [p for p in source.split("\n") if len(p) > 200]
        if not paragraphs:
            continue
        copied = paragraphs[len(paragraphs) // 2]
        keys_alone = set(passages.passages(copied, passages.encode(copied, ENC), ENC)[0].tolist())
        # re-spaced and in another case, inside another document
        moved = host + "\n" + "  ".join(copied.split(" ")).upper() + "\n" + host[:300]
        keys_moved = set(passages.passages(moved, passages.encode(moved, ENC), ENC)[0].tolist())
        keys_source = set(passages.passages(source, passages.encode(source, ENC), ENC)[0].tolist())
        assert keys_alone <= keys_moved and keys_alone <= keys_source


def test_kgram_hashes_match_the_definition():
    rng = np.random.default_rng(7)
    ids = rng.integers(0, 100_000, size=300).astype(np.uint32)
    got = passages.kgram_hashes(ids)
    mask = (1 << 64) - 1

    def murmur(h: int) -> int:
        h ^= h >> 33
        h = (h * 0xFF51AFD7ED558CCD) & mask
        h ^= h >> 33
        h = (h * 0xC4CEB9FE1A85EC53) & mask
        return h ^ (h >> 33)

    for i in range(0, len(ids) - K + 1, 17):
        poly = 0
        for j in range(K):
            poly = (poly * passages._BASE + int(ids[i + j])) & mask
        assert int(got[i]) == murmur(poly)
    assert len(got) == len(ids) - K + 1 and len(passages.kgram_hashes(ids[:K - 1])) == 0


def test_every_shared_span_of_the_guaranteed_length_keeps_a_fingerprint():
    rng = random.Random(11)
    texts = court(60)
    for _ in range(200):
        a, b = rng.sample(texts, 2)
        ids_a, ids_b = passages.encode(a, ENC), passages.encode(b, ENC)
        if len(ids_a) < GUARANTEED_SPAN + 10:
            continue
        start = rng.randrange(0, len(ids_a) - GUARANTEED_SPAN)
        cut = rng.randrange(0, len(ids_b))
        merged = np.concatenate([ids_b[:cut], ids_a[start:start + GUARANTEED_SPAN], ids_b[cut:]])
        fa, pa = passages.fingerprints(ids_a)
        fm, pm = passages.fingerprints(merged)
        # a fingerprint of the copy lies wholly inside the copied span, and the source keeps the same hash
        inside = (pm >= cut) & (pm + K <= cut + GUARANTEED_SPAN)
        assert inside.any()
        assert np.isin(fm[inside], fa).any()


def test_winnowing_keeps_each_window_s_smallest():
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 50, size=500).astype(np.uint32)  # a small alphabet: repeated hashes too
    h = passages.kgram_hashes(ids)
    fp, pos = passages.fingerprints(ids)
    chosen = set(pos.tolist())
    for start in range(len(h) - W + 1):
        window = h[start:start + W]
        smallest = set((start + np.flatnonzero(window == window.min())).tolist())
        assert smallest <= chosen
    assert all(any(h[p] == h[s:s + W].min() for s in range(max(0, p - W + 1), min(p, len(h) - W) + 1))
               for p in chosen)
    assert np.array_equal(fp, h[pos])


def test_char_offsets_point_at_each_token():
    for text in court(10) + ["Emoji 😀 and 한글, mixed."]:
        ids = passages.encode(text, ENC)
        offsets = passages.char_offsets(text, ids, ENC)
        assert offsets[0] == 0 and offsets[-1] == len(text) and np.all(np.diff(offsets) >= 0)


def test_fingerprints_of_many_texts_at_once_are_each_text_s_own():
    """The guard's index fingerprints texts in batches: a batch must give every text exactly what it gives alone,
    whatever its neighbours, for texts shorter than a K-gram, shorter than a window, and long ones."""
    rng = np.random.default_rng(13)
    texts = [passages.encode(t, ENC) for t in court(60)]
    texts += [t[:n] for t, n in zip(texts, [0, 1, K - 1, K, K + 1, K + W - 2, K + W - 1, K + W, 2 * W])]
    texts += [rng.integers(0, 30, size=n).astype(np.uint32) for n in (20, 40, 47, 48, 300)]  # repeated hashes
    for _ in range(5):
        order = rng.permutation(len(texts))
        group = [texts[i] for i in order]
        lengths = np.array([len(t) for t in group], dtype=np.int64)
        hashes, positions, counts = passages.batch_fingerprints(np.concatenate(group), lengths)
        assert counts.sum() == len(hashes) == len(positions)
        bounds = np.concatenate([[0], np.cumsum(counts)])
        for i, ids in enumerate(group):
            alone = passages.fingerprints(ids)
            got = hashes[bounds[i]:bounds[i + 1]], positions[bounds[i]:bounds[i + 1]]
            assert np.array_equal(got[0], alone[0]) and np.array_equal(got[1], alone[1])
            h = passages.kgram_hashes(ids)
            if 0 < len(h) < W:  # no whole window: the smallest hash stands for the text
                assert np.array_equal(got[1], np.flatnonzero(h == h.min()))
            assert np.array_equal(got[0], h[got[1]])
