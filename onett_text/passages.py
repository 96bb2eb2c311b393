"""Passages and verbatim spans of a text: what passage-level credit and the recitation guard compare.

Passages (credit). A text is cut after every line end and every sentence end (`.`, `?`, `!` and closing quotes or
brackets, then a space); a piece of at least MIN_PASSAGE_TOKENS tokens is a passage, and the shorter pieces before
it (a title, "감사합니다.", "Mr. ") are joined to it, the ones at the very end to the last passage. Only the long
piece names the passage (its key), so the cut does not depend on what came before: a paragraph copied out of its
document and into another is cut, and keyed, the same way there (a context-dependent merge would misalign after
the first short sentence). The key is the piece's letters and digits, lower-cased (re-spacing, punctuation or
case changes do not hide a copy), hashed with BLAKE2b to 64 bits. A passage's tokens are the tokens that start in
it, so the passages of a text add up to its token count exactly.

Spans (recitation). The text's token ids are hashed K at a time (every K-gram, a polynomial over the ids with the
MurmurHash3 finalizer, as plain integer arithmetic: the same on every machine), and the K-gram hashes are winnowed
(Schleimer, Wilkerson and Aiken, SIGMOD 2003): of every W consecutive ones the smallest is kept, with its position.
A span of at least K + W - 1 tokens shared by two texts holds at least one whole window, whose smallest hash both
keep, so looking up every K-gram of a model's output finds every such span, and about 2 / (W + 1) of a text's
positions are stored.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
import polars as pl

from onett_text.tokens import encode, load_encoding

__all__ = ["GUARANTEED_SPAN", "K", "MIN_PASSAGE_TOKENS", "W", "batch_passages", "byte_offsets", "char_offsets", "encode",
           "batch_fingerprints", "fingerprints", "kgram_hashes", "passage_keys", "passages", "vocabulary"]

MIN_PASSAGE_TOKENS = 20  # a shorter piece is joined to the next passage: too common to tell a copy by
K = 16  # tokens per hashed span
W = 32  # K-gram hashes per winnowing window: every shared span of K + W - 1 = 47 tokens is found
GUARANTEED_SPAN = K + W - 1

_CLOSING = "\"')]}”’»"  # closing quotes and brackets that may follow a sentence end
_MASK = (1 << 64) - 1


def _splitmix64(seed: int) -> int:
    z = (seed + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


_BASE = _splitmix64(0x6F6E657474) | 1  # odd (invertible), fixed forever: stored fingerprints depend on it
_BASE_INVERSE = pow(_BASE, -1, 1 << 64)


class _Vocabulary:
    """Per token id of an encoding: its length in bytes, whether it holds a line end, ends a sentence, or starts
    with a space or tab."""

    def __init__(self, encoding: str):
        enc = load_encoding(encoding)
        self.lengths = np.zeros(enc.n_vocab, dtype=np.int64)
        self.newline = np.zeros(enc.n_vocab, dtype=bool)
        self.terminal = np.zeros(enc.n_vocab, dtype=bool)
        self.space = np.zeros(enc.n_vocab, dtype=bool)
        for token in range(enc.n_vocab):
            try:
                raw = enc.decode_single_token_bytes(token)
            except KeyError:
                continue
            self.lengths[token] = len(raw)
            self.newline[token] = b"\n" in raw
            self.terminal[token] = raw.decode("utf-8", "ignore").rstrip(_CLOSING).endswith((".", "!", "?", "。"))
            self.space[token] = raw[:1] in (b" ", b"\t")


@lru_cache(maxsize=4)
def vocabulary(encoding: str) -> _Vocabulary:
    return _Vocabulary(encoding)


def byte_offsets(ids: np.ndarray, encoding: str) -> np.ndarray:
    """Byte offset in UTF-8 at which each token starts, and the text's length after the last (len(ids) + 1)."""
    return np.concatenate([[0], np.cumsum(vocabulary(encoding).lengths[ids])])


def passage_keys(pieces: list[str]) -> np.ndarray:
    """The key of each piece (uint64): BLAKE2b-64 of its letters and digits, lower-cased; 0 for a piece with none.
    Lower-casing and the clean-up run in polars over all pieces at once."""
    squashed = pl.Series(pieces, dtype=pl.String).str.to_lowercase().str.replace_all(r"[\W_]+", "").to_list()
    return np.fromiter((int.from_bytes(hashlib.blake2b(k.encode(), digest_size=8).digest(), "little") if k else 0
                        for k in squashed), dtype=np.uint64, count=len(squashed))


def passages(text: str, ids: np.ndarray, encoding: str) -> tuple[np.ndarray, np.ndarray]:
    """(key, tokens) of each passage of `text`, whose token ids are `ids`: keys uint64, tokens adding up to
    len(ids). A text without a piece long enough is one passage keyed by all of it."""
    keys, tokens, _ = batch_passages([text], [ids], encoding)
    return keys, tokens


def batch_passages(texts: list[str], ids: list[np.ndarray], encoding: str
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The passages of many texts at once, with numpy over the whole batch (a batch of short texts would otherwise
    spend its time in per-text calls): (keys, tokens, offsets), text i's passages at offsets[i]:offsets[i + 1].
    Cuts are found on the token ids (a token holding a line end, or ending a sentence before a token that starts
    with a space: always between characters), so only the long pieces are ever looked at as text."""
    count = len(texts)
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=count)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    if starts[-1] == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint32), np.zeros(count + 1, np.int64)
    every = np.concatenate(ids).astype(np.int64, copy=False)
    vocab = vocabulary(encoding)
    cut = vocab.newline[every]
    cut[:-1] |= vocab.terminal[every[:-1]] & vocab.space[every[1:]]
    cut[starts[1:][lengths > 0] - 1] = True  # a text's last token ends its last piece
    bounds = np.concatenate([[0], np.flatnonzero(cut) + 1])
    sizes = np.diff(bounds)
    piece_text = np.searchsorted(starts, bounds[:-1], side="right") - 1
    raw = "".join(texts).encode()
    at = np.concatenate([[0], np.cumsum(vocab.lengths[every])])[bounds]  # byte offset of each cut
    candidates = np.flatnonzero(sizes >= MIN_PASSAGE_TOKENS)
    keys = np.zeros(len(sizes), dtype=np.uint64)
    keys[candidates] = passage_keys([raw[a:b].decode("utf-8", "replace")
                                     for a, b in zip(at[candidates].tolist(), at[candidates + 1].tolist())])
    long = keys != 0
    # every piece joins the first long piece at or after it in its text; the pieces after a text's last long
    # piece join that one; a text without a long piece is one passage keyed by all of it
    index = np.arange(len(sizes))
    after = np.minimum.accumulate(np.where(long, index, len(sizes))[::-1])[::-1]
    before = np.maximum.accumulate(np.where(long, index, -1))
    last = len(sizes) - 1
    owner = np.where((after <= last) & (piece_text[np.minimum(after, last)] == piece_text), after,
                     np.where((before >= 0) & (piece_text[np.maximum(before, 0)] == piece_text), before, -1))
    has_long = np.zeros(count, dtype=bool)
    has_long[piece_text[long]] = True
    owned = owner >= 0
    long_tokens = np.bincount(owner[owned], weights=sizes[owned], minlength=len(sizes))
    # one row per passage, in text order: the long pieces, and one for each non-empty text without any
    lone = np.flatnonzero(~has_long & (lengths > 0))
    row_text = np.concatenate([piece_text[long], lone])
    row_key = np.concatenate([keys[long], passage_keys([texts[i] for i in lone])])
    row_tokens = np.concatenate([long_tokens[long], lengths[lone]]).astype(np.uint32)
    order = np.argsort(row_text, kind="stable")
    return row_key[order], row_tokens[order], np.concatenate([[0], np.cumsum(np.bincount(row_text, minlength=count))])


_POWERS: list[np.ndarray] = []  # B^i and B^-i mod 2^64, grown as longer texts come


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    if not _POWERS or len(_POWERS[0]) < n:
        size = max(n, 1 << 16, 2 * len(_POWERS[0]) if _POWERS else 0)
        up = np.empty(size, dtype=np.uint64)
        down = np.empty(size, dtype=np.uint64)
        up[0], down[0] = 1, 1
        up[1:] = _BASE
        down[1:] = _BASE_INVERSE
        np.cumprod(up, out=up)
        np.cumprod(down, out=down)
        _POWERS[:] = [up, down]
    return _POWERS[0], _POWERS[1]


def kgram_hashes(ids: np.ndarray) -> np.ndarray:
    """The hash of every run of K consecutive token ids (len(ids) - K + 1 values, none for a shorter text): the
    polynomial sum(id[i + j] * B^(K-1-j)) mod 2^64 from prefix sums, then the MurmurHash3 finalizer. One text, with
    slices: every recitation query hashes its output here (`_kgrams` does many texts, by index, at about 3x the cost
    for one)."""
    n = len(ids) - K + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    up, down = _powers(len(ids) + K)
    prefix = np.zeros(len(ids) + 1, dtype=np.uint64)
    np.cumsum(ids.astype(np.uint64) * down[:len(ids)], out=prefix[1:])
    return _mix((prefix[K:] - prefix[:n]) * up[K - 1:K - 1 + n])


def _kgrams(ids: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """kgram_hashes of texts whose ids are concatenated in `ids` (`lengths` each), text after text: (hashes, the
    text of each, its position in the text). Each id is weighted by its position in its own text, so a text's
    hashes do not depend on what lies before it, and the powers needed stop at the longest text."""
    lengths = lengths.astype(np.int64, copy=False)
    total = int(lengths.sum())
    text_starts = np.cumsum(lengths) - lengths
    local = np.arange(total, dtype=np.int64) - np.repeat(text_starts, lengths)
    up, down = _powers(int(lengths.max(initial=0)) + K)
    prefix = np.zeros(total + 1, dtype=np.uint64)
    np.cumsum(ids.astype(np.uint64) * down[local], out=prefix[1:])
    grams = np.maximum(lengths - K + 1, 0)
    text = np.repeat(np.arange(len(lengths), dtype=np.int64), grams)
    at = np.arange(int(grams.sum()), dtype=np.int64) - np.repeat(np.cumsum(grams) - grams, grams)  # in its text
    start = text_starts[text] + at
    return _mix((prefix[start + K] - prefix[start]) * up[at + K - 1]), text, at


def _mix(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer, in place."""
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return h


def _sliding(values: np.ndarray, width: int, pick) -> np.ndarray:
    """pick (np.minimum or np.maximum) over every `width` consecutive values, width a power of two."""
    step = 1
    while step < width:
        values = pick(values[:-step], values[step:])
        step *= 2
    return values


def fingerprints(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hash, position) of the winnowed K-grams of a text: every K-gram whose hash is the smallest of some W
    consecutive ones (all of them when a hash repeats); the smallest overall for a text of fewer than W."""
    h, p, _ = batch_fingerprints(np.asarray(ids), np.array([len(ids)], dtype=np.int64))
    return h, p


def batch_fingerprints(ids: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`fingerprints` of many texts at once, their ids concatenated in `ids` (`lengths` each): (hashes, positions,
    count per text), text after text. A few numpy passes over the whole batch instead of a dozen calls per text:
    the guard's index is built from tens of thousands of short texts."""
    h, text, at = _kgrams(ids, lengths)
    if len(h) == 0:
        return h, at.astype(np.uint32), np.zeros(len(lengths), dtype=np.int64)
    grams = np.bincount(text, minlength=len(lengths))
    first = np.cumsum(grams) - grams  # each text's first K-gram
    if len(h) >= W:
        # window w (W K-grams from w) counts only inside one text; the others are 0, as the padding at a text's ends
        window_min = _sliding(h, W, np.minimum)
        window_min[at[:len(window_min)] > grams[text[:len(window_min)]] - W] = 0
        padded = np.concatenate([np.zeros(W - 1, np.uint64), window_min, np.zeros(W - 1, np.uint64)])
        chosen = _sliding(padded, W, np.maximum) == h
    else:
        chosen = np.zeros(len(h), dtype=bool)
    # a text of fewer than W K-grams has no whole window: its smallest hash stands for it
    short = (grams > 0) & (grams < W)
    if short.any():
        smallest = np.zeros(len(lengths), dtype=np.uint64)
        smallest[grams > 0] = np.minimum.reduceat(h, first[grams > 0])
        in_short = short[text]
        chosen[in_short] = h[in_short] == smallest[text[in_short]]
    return h[chosen], at[chosen].astype(np.uint32), np.bincount(text[chosen], minlength=len(lengths))


def char_offsets(text: str, ids: np.ndarray, encoding: str) -> np.ndarray:
    """Character offset at which each token of `text` starts, and len(text) after the last (len(ids) + 1)."""
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    sizes = 1 + (points >= 0x80).astype(np.int64) + (points >= 0x800) + (points >= 0x10000)
    char_bytes = np.concatenate([[0], np.cumsum(sizes)])
    return np.searchsorted(char_bytes, byte_offsets(ids, encoding), side="left")
