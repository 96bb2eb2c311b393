"""Commercial spam and scam mail in English: a small linear classifier over hashed words and word pairs.

The quality rules judge how a text is made (markup, links, repetition, word order), and an advance-fee letter or a
sales pitch in plain, grammatical English is made like honest prose: every rule feature that catches it also hits
speeches and novels. What gives it away is its content ("strictly confidential", "US$71,500,000", "100% legal",
"order today"), so this is a content classifier, used by the rule `spam` (rules.py).

Model: logistic regression on the relative frequencies of lowercased words and adjacent word pairs, hashed into
2**BITS buckets, plus capital letters per byte of text. A document's score is

    bias + mean weight of its words and word pairs + caps weight * capital letters per byte

and its spam probability the logistic of that score. The mean does not grow with length: a 10,000-word speech is
judged on the same scale as a 200-word letter. Weights are stored as int8 with one scale in data/spam_en.npz
(built by bench/train_spam.py, sources in data/README.md).

Tokens, read from the UTF-8 bytes (no decoding, no Python loop per document or word): a run of ASCII letters and
digits, lowercased, every digit read as 0 (amounts and phone numbers generalize: 'US$71,500,000' gives 'us', '$',
'00', '000', '000'); '$', '!' and '%' are tokens of their own; everything else, including every non-ASCII
character, separates tokens.

English only. Korean text is never scored (`spam_scores` hands only 'en' documents to the model): the model knows
English mail and prose only, a Korean document has almost no ASCII tokens, and its score would be noise.
Personal data masking (pii.py) puts Hangul placeholders such as '[이메일]' into English text; those bytes separate
tokens like any non-ASCII character, so a masked and an unmasked e-mail address differ only by the address's own
words (the model is trained on both forms).

Measured by `bench/train_spam.py --eval` on text never trained on: together with the quality rules, 97.2% of the
held-out spam is removed (the rules alone: 86.4%; spam of campaigns with no near copy in training: 96.4%); of the
844 held-out honest e-mails the rules keep, 1 is removed (a blog post quoting a jingle: "We love you, you love
us"); no State of the Union address (highest probability 0.57) and no Moby-Dick chapter is; Korean documents are
untouched. Weak spot: texts that address the reader ('you', 'your', '!': jokes, verse, advice) score high: 49 of
the 15,217 fortunes of en_fortunes_short (those of 50+ words) would be removed on top of what the rules remove.
MIN_WORDS keeps shorter texts out of the rule's reach.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from onett_text.quality.measure import FrameMeasure

MODEL = resources.files("onett_text") / "data" / "spam_en.npz"  # built by bench/train_spam.py

# Spam probability above which the rule `spam` rejects an English document. Chosen by bench/train_spam.py from
# out-of-fold predictions on the training data alone (5-fold cross-validation): the lowest threshold at which at
# most 1% of the training ham and 0.25% of the training prose would be removed. Out of fold it catches 92% of the
# training spam. A false positive costs an honest contributor money, so the threshold is set by the honest text,
# not by the spam. Checked afterwards on data never trained on: see the table of `bench/train_spam.py --eval`.
THRESHOLD = 0.84
MIN_WORDS = 50  # the rule judges English documents of at least this many words: a mean over fewer is noise

BATCH_BYTES = 1 << 20  # text per featurization batch: its per-byte uint64 arrays (8 MiB) mostly stay in cache

_P = np.uint64(0x100000001B3)  # odd: invertible modulo 2**64
_P_INV = np.uint64(pow(int(_P), -1, 1 << 64))
_PAIR = np.uint64(0x9E3779B97F4A7C15)
_POWERS: tuple[np.ndarray, np.ndarray] = (np.ones(0, np.uint64), np.ones(0, np.uint64))


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """P**i and P**-i modulo 2**64 for i < n (at least), grown by doubling; replaced as one tuple, so a thread never
    sees a mismatched pair."""
    global _POWERS
    powers = _POWERS
    if len(powers[0]) < n:
        size = max(n, 1 << 20, 2 * len(powers[0]))
        pw = np.full(size, _P, np.uint64)
        inv = np.full(size, _P_INV, np.uint64)
        pw[0] = inv[0] = 1
        powers = _POWERS = (np.cumprod(pw), np.cumprod(inv))
    return powers


def _mix(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer: every input bit reaches the top bits used as the bucket."""
    x = x ^ (x >> np.uint64(33))
    x *= np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xC4CEB9FE1A85EC53)
    return x ^ (x >> np.uint64(33))


@dataclass
class Features:
    """Hashed token and token-pair occurrences of a batch of documents."""

    n_docs: int
    doc: np.ndarray  # document of every occurrence
    bucket: np.ndarray  # its bucket, < 2**bits
    count: np.ndarray  # occurrences per document (tokens + pairs)
    caps: np.ndarray  # capital letters (A-Z) per byte of text, per document


def _bytes(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of all texts, concatenated, and each text's byte offsets (from the Arrow buffers, no copy per
    text)."""
    arr = texts.fill_null("").to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_string())
    offsets = np.frombuffer(arr.buffers()[1], np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    if data is None or not len(arr) or offsets[-1] == offsets[0]:
        return np.zeros(0, np.uint8), np.zeros(len(arr) + 1, np.int64)
    raw = np.frombuffer(data, np.uint8)[offsets[0] : offsets[-1]]
    return raw, offsets - offsets[0]


def _featurize_batch(texts: pl.Series, bits: int) -> Features:
    raw, offsets = _bytes(texts)
    n = len(texts)
    size = np.diff(offsets)
    # capital letters per byte of text
    capitals = np.searchsorted(np.flatnonzero((raw - np.uint8(65)) < 26), offsets)
    caps = np.divide(np.diff(capitals), size, out=np.zeros(n), where=size > 0)

    # byte codes: letters lowercased, digits all '0', '$' '!' '%' as they are, 0 for separators (uint8 arithmetic
    # on the whole batch: faster than a table lookup)
    low = raw | np.uint8(0x20)
    alpha = (low - np.uint8(97)) < 26
    digit = (raw - np.uint8(48)) < 10
    single = (raw == 36) | (raw == 33) | (raw == 37)
    word = alpha | digit
    code = low * alpha + np.uint8(48) * digit + raw * single
    # a token starts at a single-byte token or at a letter/digit not preceded by one (or at a document start)
    start = code != 0
    start[1:] &= ~(word[1:] & word[:-1])
    inner = offsets[1:-1][(offsets[1:-1] > 0) & (offsets[1:-1] < len(raw))]
    start[inner] = code[inner] != 0
    starts = np.flatnonzero(start)
    if not len(starts):
        z = np.zeros(0, np.int64)
        return Features(n, z, z, np.zeros(n, np.int64), caps)
    # polynomial hash of each token: sum of code * P**position from its start to the next token's start
    # (separators add 0), brought back to position 0; the sums are differences of prefix sums (modulo 2**64, so
    # exactly the sums), cheaper than np.add.reduceat over millions of short tokens
    pw, inv = _powers(len(raw) + 1)
    prefix = np.empty(len(raw) + 1, np.uint64)  # not zeroed: every entry is written
    prefix[0] = 0
    np.multiply(code, pw[: len(raw)], out=prefix[1:], dtype=np.uint64)
    np.cumsum(prefix[1:], out=prefix[1:])
    h = _mix((np.take(prefix, np.append(starts[1:], len(raw))) - np.take(prefix, starts)) * np.take(inv, starts))
    tok_doc = np.searchsorted(offsets, starts, side="right") - 1
    same = tok_doc[1:] == tok_doc[:-1]
    pair = _mix(h[:-1][same] * _PAIR + h[1:][same] + np.uint64(1))
    shift = np.uint64(64 - bits)
    bucket = np.concatenate([h >> shift, pair >> shift]).astype(np.int64)
    doc = np.concatenate([tok_doc, tok_doc[:-1][same]])
    return Features(n, doc, bucket, np.bincount(doc, minlength=n), caps)


def featurize(texts: pl.Series | list[str], bits: int) -> Features:
    """Features of every text, in batches of about BATCH_BYTES."""
    if not isinstance(texts, pl.Series):
        texts = pl.Series(texts, dtype=pl.String)
    size = texts.fill_null("").str.len_bytes().to_numpy().astype(np.int64)
    batch = (np.cumsum(size) - size) // BATCH_BYTES
    cuts = [0, *(np.flatnonzero(np.diff(batch)) + 1).tolist(), len(size)]
    parts = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        if b > a:
            f = _featurize_batch(texts.slice(a, b - a), bits)
            f.doc += a
            parts.append(f)
    if not parts:
        return _featurize_batch(texts, bits)
    return Features(
        len(texts),
        np.concatenate([p.doc for p in parts]),
        np.concatenate([p.bucket for p in parts]),
        np.concatenate([p.count for p in parts]),
        np.concatenate([p.caps for p in parts]),
    )


@dataclass(frozen=True)
class Model:
    bits: int
    weights: np.ndarray  # float32 per bucket (stored as int8 * scale)
    bias: float
    caps: float

    def scores(self, f: Features) -> np.ndarray:
        total = np.bincount(f.doc, weights=self.weights[f.bucket], minlength=f.n_docs)
        mean = np.divide(total, f.count, out=np.zeros(f.n_docs), where=f.count > 0)
        return self.bias + mean + self.caps * f.caps


def held_out(md5: str) -> bool:
    """Whether a message of en_spamassassin_emails (by its `md5` field) is in the held-out half, which the model
    never sees in training (bench/train_spam.py) and on which it is evaluated (tests/text/test_spam.py)."""
    return hashlib.sha256(md5.encode("ascii")).digest()[0] % 2 == 1


@cache
def model(path: Path = MODEL) -> Model:
    with np.load(path) as z:
        return Model(int(z["bits"]), z["weights"].astype(np.float32) * np.float32(z["scale"]), float(z["bias"]),
                     float(z["caps"]))


def spam_probability(texts: pl.Series | list[str]) -> np.ndarray:
    """Spam probability of every text (normalized English text; see the module docstring)."""
    m = model()
    return logistic(m.scores(featurize(texts, m.bits)))


def logistic(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # 1 / (1 + exp(-z)) without overflow


def spam_scores(frame: pl.DataFrame) -> pl.Series:
    """The measure of the rule `spam`: the spam probability of every English document of `frame` (columns `text`,
    normalized, and `language`), 0 for every other document, whose text is never looked at."""
    english = (frame["language"] == "en").fill_null(False)
    p = np.zeros(frame.height)
    if english.any():
        p[english.to_numpy()] = spam_probability(frame["text"].filter(english))
    return pl.Series("spam_probability", p)


probability = FrameMeasure("spam_probability", "spam probability of an English document (0 for any other)",
                           spam_scores)
