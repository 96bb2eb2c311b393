"""Word order: does each word fit the one before it? Catches shuffled word salad, which every count-based rule
misses because it has exactly the words, lengths and stop words of the real document it was made from.

Each whitespace word is reduced to a class at each end:
- Korean: how it ends (its last two characters up to its last Hangul syllable among the final three characters,
  i.e. the particle or ending; that syllable alone when the pair is rare) and how it begins (its first two syllables, or the first one; a
  digit; anything else), with a mark for a following comma or sentence punctuation;
- English: the word itself when it has at most four letters (function words), else its last / first two letters,
  with the same punctuation mark and a mark for a capital.
A table of pointwise mutual information (PMI) between the class that ends one word and the class that starts the
next, learned from public-domain and CC0 text (data/README.md, built by bench/build_word_order.py), scores every
pair of adjacent words within a line. The document's score is the mean over its pairs (at most 1,000, spread evenly
over a longer document: measures.ORDER_PAIRS): real text scores above zero
(its pairs follow grammar: '할' is followed by '수', 'of' by 'the'), shuffled text below (independent pairs have an
expected PMI of minus a divergence, never positive).

Classes are exact 64-bit keys packed from the scan's code-point arrays (scan.py); the table stores its vocabulary
as those keys (with readable labels), so the texts and the table are classified by the same code.
"""

from __future__ import annotations

import base64
import json
import zlib
from functools import cache
from pathlib import Path

import numpy as np

from onett_assets.preprocessing.scan import CLASS, COMMA, HANGUL, LETTER, LOWER, NUMBER, TERMINAL, UPPER, Lookup, Scan

DATA = Path(__file__).resolve().parent / "data"
SCALE = 16.0  # PMI stored as int8, in 1/16 nats
# class kinds (top bits of a class key)
KO_TAIL, KO_TAIL_NONE, KO_HEAD, KO_HEAD_DIGIT, KO_HEAD_OTHER = 1, 2, 3, 4, 5
EN_TAIL_NONE, EN_TAIL, EN_TAIL_SUFFIX, EN_HEAD, EN_HEAD_PREFIX, EN_HEAD_NONE = 6, 7, 8, 9, 10, 11


def word_features(sc: Scan, words: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """For the given words of the scan (all by default), from their first and last few characters only:
    - first_alnum / last_alnum: position of the first / last letter or digit, skipping up to 3 punctuation marks
      at either end (-1 when none is found there),
    - last_hangul: position of the last Hangul syllable among the last 3 characters (-1: none), i.e. the particle
      or ending, before a closing mark such as '다.)',
    - mark: what follows the last letter or digit: 1 sentence punctuation, 2 comma-like, 0 nothing."""
    ws, we = (sc.ws, sc.we) if words is None else (sc.ws[words], sc.we[words])
    cls = sc.cls
    n = len(cls)
    if not len(ws):
        empty = np.zeros(0, np.int64)
        return {"first_alnum": empty, "last_alnum": empty, "last_hangul": empty, "mark": empty}

    def bits(pos, lo, hi):
        return np.where((pos >= lo) & (pos < hi), cls[np.minimum(np.maximum(pos, 0), n - 1)], 0)

    alnum = LETTER | NUMBER
    first = np.full(len(ws), -1, np.int64)
    last = np.full(len(ws), -1, np.int64)
    last_hangul = np.full(len(ws), -1, np.int64)
    mark = np.zeros(len(ws), np.int64)
    for k in (3, 2, 1, 0):  # nearest wins: looked at last
        p = ws + k
        first = np.where((bits(p, ws, we) & alnum) != 0, p, first)
        q = we - 1 - k
        b = bits(q, ws, we)
        last = np.where((b & alnum) != 0, q, last)
        if k < 3:
            last_hangul = np.where((b & HANGUL) != 0, q, last_hangul)
    for k in (2, 1, 0):  # the punctuation nearest to the last letter or digit decides
        q = last + 1 + k
        b = bits(q, ws, we) * (last >= 0)
        mark = np.where((b & TERMINAL) != 0, 1, np.where((b & COMMA) != 0, 2, mark))
    return {"first_alnum": first, "last_alnum": last, "last_hangul": last_hangul, "mark": mark}


def last_hangul(sc: Scan) -> np.ndarray:
    """Per word: position of the last Hangul syllable among its last 3 characters (-1: none)."""
    out = np.full(len(sc.ws), -1, np.int64)
    for k in (2, 1, 0):
        q = sc.we - 1 - k
        ok = q >= sc.ws
        out = np.where(ok & ((sc.cls[np.maximum(q, 0)] & HANGUL) != 0), q, out)
    return out


def _key(kind, a, b, c=0, d=0, flag=0, width=21):
    """Exact 64-bit key of a class: kind (4 bits), up to four characters, a 2-bit flag."""
    k = np.asarray(kind).astype(np.int64) << 60
    if width == 21:  # Korean: two full code points
        k = k | (np.asarray(a).astype(np.int64) << 23) | (np.asarray(b).astype(np.int64) << 2)
    else:  # English: four characters of 10 bits (lower-cased Latin fits; anything else shares one value)
        for i, ch in enumerate((a, b, c, d)):
            k = k | (np.minimum(np.asarray(ch).astype(np.int64), 1023) << (32 - 10 * i))
    return (k | np.asarray(flag).astype(np.int64)).astype(np.uint64)


def classes(sc: Scan, wf: dict[str, np.ndarray], words: np.ndarray, language: str, side: str) -> tuple[np.ndarray, np.ndarray]:
    """Class keys of the given words' `side` ('tail': how the word ends, 'head': how it begins): the detailed key
    and the coarse key to fall back on. `wf` holds word_features of exactly these words."""
    ws, we = sc.ws[words], sc.we[words]
    cp = sc.cp
    n = len(cp)

    def at(pos, lo, hi):
        return np.where((pos >= lo) & (pos < hi), cp[np.minimum(np.maximum(pos, 0), max(n - 1, 0))], 0).astype(np.int64)

    if language == "ko":
        if side == "tail":
            lh, mark = wf["last_hangul"], wf["mark"]
            has = lh >= 0
            end, prev = at(lh, ws, we) * has, at(lh - 1, ws, we) * has
            kind = np.where(has, KO_TAIL, KO_TAIL_NONE)
            return _key(kind, prev, end, flag=mark), _key(kind, 0, end, flag=mark)
        c0, c1 = at(ws, ws, we), at(ws + 1, ws, we)
        cls0, cls1 = CLASS[np.minimum(c0, 0x10000)], CLASS[np.minimum(c1, 0x10000)]
        hangul0 = (cls0 & HANGUL) != 0
        kind = np.where(hangul0, KO_HEAD, np.where((cls0 & NUMBER) != 0, KO_HEAD_DIGIT, KO_HEAD_OTHER))
        h0 = np.where(hangul0, c0, 0)
        h1 = np.where(hangul0 & ((cls1 & HANGUL) != 0), c1, 0)
        return _key(kind, h0, h1), _key(kind, h0, 0)
    fa, la = wf["first_alnum"], wf["last_alnum"]
    has = (fa >= 0) & (la >= fa)
    short = has & (la - fa + 1 <= 4)
    zero = np.zeros(len(words), np.int64)

    def low(pos):
        return LOWER[np.minimum(at(pos, fa, la + 1), 0x10000)].astype(np.int64)

    l0, l1 = low(fa), low(fa + 1)
    l2, l3 = np.where(short, low(fa + 2), zero), np.where(short, low(fa + 3), zero)
    if side == "tail":
        key = _key(np.where(short, EN_TAIL, np.where(has, EN_TAIL_SUFFIX, EN_TAIL_NONE)),
                   np.where(short, l0, low(la - 1)), np.where(short, l1, low(la)), l2, l3, wf["mark"], width=10)
    else:
        cap = ((CLASS[np.minimum(at(fa, fa, la + 1), 0x10000)] & UPPER) != 0).astype(np.int64)
        key = _key(np.where(short, EN_HEAD, np.where(has, EN_HEAD_PREFIX, EN_HEAD_NONE)), l0, l1, l2, l3, cap, width=10)
    return key, key


def resolve(full: np.ndarray, short: np.ndarray, lookup: Lookup, other: int) -> np.ndarray:
    """Row in the table: the detailed class if the table has it, else the coarse one, else OTHER."""
    row = lookup.row(full)
    missing = row < 0
    row[missing] = lookup.row(short[missing], default=other)
    return row


@cache
def model(language: str) -> tuple[Lookup, Lookup, np.ndarray]:
    """Lookups of the tail and head classes, and the PMI table (its last row and column are OTHER)."""
    data = json.loads((DATA / f"word_order_{language}.json").read_text(encoding="utf-8"))
    tails = Lookup(np.array([int(k) for k in data["tail_keys"]], np.uint64))
    heads = Lookup(np.array([int(k) for k in data["head_keys"]], np.uint64))
    raw = zlib.decompress(base64.b64decode(data["pmi_int8_zlib_base64"]))
    pmi = np.frombuffer(raw, dtype=np.int8).reshape(len(data["tail_keys"]) + 1, len(data["head_keys"]) + 1)
    return tails, heads, pmi.astype(np.float32) / SCALE


def pair_scores(sc: Scan, pairs: np.ndarray, language: str) -> np.ndarray:
    """PMI of each selected word (`pairs`: boolean over words) with the word after it."""
    tails, heads, pmi = model(language)
    first = np.flatnonzero(pairs)
    ti = resolve(*classes(sc, word_features(sc, first), first, language, "tail"), tails, pmi.shape[0] - 1)
    hi = resolve(*classes(sc, word_features(sc, first + 1), first + 1, language, "head"), heads, pmi.shape[1] - 1)
    return pmi[ti, hi]
