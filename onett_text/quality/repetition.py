"""Measures of repetition: repeated lines and paragraphs, repeated word n-grams, and the words a document repeats
most (keyword stuffing), for a whole batch at once (numpy, no loop over documents). (Kept over 300 lines: the
hash-sorting algorithms and the measures built on them are read together.)

Gopher's repetition measures (Rae et al. 2021; the datatrove implementation used by FineWeb), per document:
- `top_{2,3,4}gram_char_frac`: characters taken by the most frequent repeated word n-gram (count x length of
  the n-gram, words joined by one space) over the document's characters;
- `dup_{5..10}gram_char_frac`: characters of the words covered by a repeated occurrence of a word n-gram (every
  occurrence after the first) over the characters of all words. datatrove counts greedily and divides by
  characters including whitespace; covering is the paper's definition and is not lowered by the spaces, so the
  values run a little higher than datatrove's on the same text: thresholds here are measured with this code;
- `dup_line_frac`, `dup_para_frac` and their `_char_frac`: lines / paragraphs repeating an earlier one.

Each n-gram is a 64-bit hash of its words, compared only within its document. An n-gram can repeat only if its
(n-1)-gram prefix and suffix both repeat, so each size works on the survivors of the one before: prose leaves
few, and the whole computation costs little more than one pass over the words.

The rules read these only for documents of some length (STATS_MIN_WORDS words for word n-grams,
SHORT_STATS_MIN_WORDS for repeated lines, paragraphs and words): shorter documents are left out of the work and
get 0.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from onett_text.charclass import LETTER, NUMBER
from onett_text.quality.characters import chars
from onett_text.quality.lines import lines, paragraphs
from onett_text.quality.measure import Batch, BatchMeasure, batch_measure, per_batch, ratio
from onett_text.quality.words import (
    EN_FUNCTION, KO_FUNCTION, SHORT_STATS_MIN_WORDS, STATS_MIN_WORDS, listed, word_lengths, words,
)

TOP_NGRAM_SIZES = (2, 3, 4)
DUP_NGRAM_SIZES = (5, 6, 7, 8, 9, 10)
COLUMNS = [*(f"top_{k}gram_char_frac" for k in TOP_NGRAM_SIZES),
           *(f"dup_{k}gram_char_frac" for k in DUP_NGRAM_SIZES)]

_MIX = np.uint64(0x9E3779B97F4A7C15)
_MIX_DOC = np.uint64(0xD6E8FEB86659FD93)  # another odd multiplier, for mixing the document into a key
_SPAN_BITS = np.uint64(12)  # n-gram length (characters, capped) kept in the low bits of its key
_SPAN_MASK = np.uint64((1 << 12) - 1)
_BATCH = 1 << 19  # documents per batch: the document number lives in the top 20 bits of a sort key


def _flags(doc: np.ndarray, key: np.ndarray, later: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """(occurs more than once in its document, is a later occurrence), in text order, of (document, key) mixed
    into 64 bits: two different pairs collide with probability 2**-64.

    One sort of the mixed values' top bits packed above their position puts equal values side by side, earliest
    first (cheaper than hashing them with polars). Should two different values share those top bits (rare), polars
    hashes that call's values instead: the same answer either way."""
    # multiplying by an odd number is one-to-one and carries the differences of short words' hashes, which sit in
    # the low bits, up into the top bits
    mixed = (key ^ ((doc.astype(np.uint64) + np.uint64(1)) * _MIX_DOC)) * _MIX
    n = len(mixed)
    if n < 2:
        return np.zeros(n, bool), np.zeros(n, bool) if later else None
    bits = np.uint64((n - 1).bit_length())
    packed = np.sort(((mixed >> bits) << bits) | np.arange(n, dtype=np.uint64))
    pos = (packed & ((np.uint64(1) << bits) - np.uint64(1))).astype(np.int64)
    value = mixed[pos]
    diff = value[1:] ^ value[:-1]
    same = diff == 0  # equal to the one before it in sorted order
    # two different values side by side with the same top bits differ only below them: 0 < diff < 2**bits
    if np.any(diff - np.uint64(1) < (np.uint64(1) << bits) - np.uint64(1)):
        series = pl.Series(mixed, dtype=pl.UInt64)
        return series.is_duplicated().to_numpy(), (~series.is_first_distinct()).to_numpy() if later else None
    in_sorted = np.zeros(n, bool)  # equal to the one before it: a later occurrence
    in_sorted[1:] = same
    rep = np.empty(n, bool)
    rep[pos] = in_sorted | np.append(same, False)  # ... or equal to the one after it
    if not later:
        return rep, None
    is_later = np.empty(n, bool)
    is_later[pos] = in_sorted
    return rep, is_later


def _per_doc_max(doc_sorted: np.ndarray, values: np.ndarray, n_docs: int) -> np.ndarray:
    out = np.zeros(n_docs)
    if len(values):
        first = np.flatnonzero(np.concatenate(([True], doc_sorted[1:] != doc_sorted[:-1])))
        out[doc_sorted[first]] = np.maximum.reduceat(values, first)
    return out


def _top_repeated(doc: np.ndarray, key: np.ndarray, span: np.ndarray, n_docs: int, at_least: int = 2) -> np.ndarray:
    """Per document, the largest count x length over keys seen `at_least` times (0 when there is none)."""
    if not len(key):
        return np.zeros(n_docs)
    packed = (doc.astype(np.uint64) << np.uint64(44)) | (
        ((key * _MIX) >> np.uint64(32)) << _SPAN_BITS  # mixed first: the top bits of a word's hash alone miss its first characters
    ) | np.minimum(span, 4095).astype(np.uint64)
    s = np.sort(packed)
    start = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    count = np.diff(np.append(start, len(s)))
    value = s[start]
    score = count * (value & _SPAN_MASK).astype(np.int64)
    score[count < at_least] = 0
    return _per_doc_max((value >> np.uint64(44)).astype(np.int64), score.astype(np.float64), n_docs)


def top_counts(doc: np.ndarray, key: np.ndarray, n_docs: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per document: how often its most frequent key occurs, and how many of its keys are one of its `k` most
    frequent keys (keyword stuffing spreads over a few keywords: no single one needs to dominate). 0 for a
    document without keys. Two sorts of packed 64-bit keys (document in the top 20 bits)."""
    if not len(key):
        return np.zeros(n_docs), np.zeros(n_docs)
    if n_docs > 1 << 20:
        raise ValueError("top_counts: at most 2**20 documents per call")
    s = np.sort((doc.astype(np.uint64) << np.uint64(44)) | ((key * _MIX) >> np.uint64(20)))  # mixed, as above
    starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    counts = np.diff(np.append(starts, len(s))).astype(np.uint64)
    # the documents' groups by decreasing count: (document, ~count) sorted
    g = np.sort(((s[starts] >> np.uint64(44)) << np.uint64(32)) | (np.uint64(0xFFFFFFFF) - counts))
    group_doc = (g >> np.uint64(32)).astype(np.int64)
    counts = (np.uint64(0xFFFFFFFF) - (g & np.uint64(0xFFFFFFFF))).astype(np.int64)
    first = np.flatnonzero(np.concatenate(([True], group_doc[1:] != group_doc[:-1])))
    top = np.ones(len(group_doc), bool)  # among its document's k largest: the group k places before is another's
    top[k:] = group_doc[k:] != group_doc[:-k]
    top1 = np.zeros(n_docs)
    top1[group_doc[first]] = counts[first]
    return top1, np.bincount(group_doc[top], weights=counts[top], minlength=n_docs)


def element_repetition(doc: np.ndarray, h: np.ndarray, length: np.ndarray, n_docs: int) -> tuple[np.ndarray, np.ndarray]:
    """For lines or paragraphs: per document, how many are repeats of an earlier one, and their characters."""
    if not len(h):
        return np.zeros(n_docs), np.zeros(n_docs)
    _, later = _flags(doc, h, later=True)
    return (np.bincount(doc, weights=later, minlength=n_docs),
            np.bincount(doc, weights=length * later, minlength=n_docs))


def word_repetition(doc: np.ndarray, h: np.ndarray, wl: np.ndarray, total_chars: np.ndarray) -> dict[str, np.ndarray]:
    """Per document (entries of `total_chars`), from its words in text order: `doc` (document of each word,
    ascending), `h` (64-bit hash of the word), `wl` (its length in characters). `total_chars` is each text's
    length. Returns the COLUMNS, each an array over the documents."""
    n_docs = len(total_chars)
    if n_docs > _BATCH:  # the document number must fit the top 20 bits of a sort key
        parts = []
        for lo in range(0, n_docs, _BATCH):
            hi = min(lo + _BATCH, n_docs)
            a, b = np.searchsorted(doc, [lo, hi])
            parts.append(word_repetition(doc[a:b] - lo, h[a:b], wl[a:b], total_chars[lo:hi]))
        return {c: np.concatenate([p[c] for p in parts]) for c in COLUMNS}
    n = len(h)
    # words after each word in its document: an n-gram from there stays in the document if it is at most that + 1
    words_left = np.cumsum(np.bincount(doc, minlength=n_docs))[doc] - 1 - np.arange(n)
    total_chars = total_chars.astype(np.float64)
    word_chars = np.bincount(doc, weights=wl, minlength=n_docs)
    out: dict[str, np.ndarray] = {}

    def share(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        return np.divide(num, den, out=np.zeros(n_docs), where=den > 0)

    rep, _ = _flags(doc, h, later=False)
    cum_chars = np.zeros(n + 1, np.int64)
    np.cumsum(wl, out=cum_chars[1:])

    pos = np.flatnonzero(rep)  # positions whose (k-1)-gram repeats in its document
    key = h[pos]
    span = wl[pos]
    mask = np.zeros(n + 1, bool)
    for k in range(2, max(DUP_NGRAM_SIZES) + 1):
        mask[pos] = True
        keep = mask[pos + 1] & (words_left[pos] >= k - 1)  # the k-gram stays in the document
        mask[pos] = False
        where = np.flatnonzero(keep)
        cand = pos[where]
        # key/span of the (k-1)-gram at each candidate, extended by the word k-1 places on
        key = key[where] * _MIX + h[cand + k - 1]
        span = span[where] + 1 + wl[cand + k - 1]
        cdoc = doc[cand]
        if k in TOP_NGRAM_SIZES:
            out[f"top_{k}gram_char_frac"] = share(_top_repeated(cdoc, key, span, n_docs), total_chars)
        if len(cand):
            rep, later = _flags(cdoc, key, later=k in DUP_NGRAM_SIZES)
        else:
            rep, later = np.zeros(0, bool), np.zeros(0, bool)
        if k in DUP_NGRAM_SIZES:
            # union of the word intervals [s, s + k) of every later occurrence, in characters; intervals are
            # sorted and all k long, so each one only overlaps the one before it
            s = cand[later]
            prev_end = np.concatenate(([0], s[:-1] + k))
            covered = cum_chars[s + k] - cum_chars[np.maximum(s, prev_end)]
            dup_chars = np.bincount(doc[s], weights=np.maximum(covered, 0), minlength=n_docs)
            out[f"dup_{k}gram_char_frac"] = share(dup_chars, word_chars)
        pos, key, span = cand[rep], key[rep], span[rep]
    return {c: out[c] for c in COLUMNS}


@per_batch
def _some(b: Batch) -> tuple[np.ndarray, np.ndarray, int]:
    """The documents of at least SHORT_STATS_MIN_WORDS words: mask, number among them, how many."""
    some = b[words] >= SHORT_STATS_MIN_WORDS
    return some, np.cumsum(some) - 1, int(some.sum())


@per_batch
def _top_content_words(b: Batch) -> tuple[np.ndarray, np.ndarray]:
    """Per document: occurrences of its most frequent content word, and of its three most frequent together. A
    function word (lexicon: Korean or English by the document's language) or a word without a letter or digit
    gets a key that never repeats."""
    sc = b.scan
    n, w_doc = b.n, sc.w_doc
    word_ko = (b.languages == "ko")[w_doc]  # compared per document: languages is an array of Python strings
    kind = listed(b)
    function = np.where(word_ko, (kind & KO_FUNCTION) != 0, (kind & EN_FUNCTION) != 0)
    function |= (sc.word_bits & (LETTER | NUMBER)) == 0
    content = sc.word_hash.copy()
    content[function] = np.arange(int(function.sum()), dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(1)
    some, some_compact, m_some = _some(b)
    sw = some[w_doc]
    top, top3 = np.zeros(n), np.zeros(n)
    top[some], top3[some] = top_counts(some_compact[w_doc[sw]], content[sw], m_some, 3)
    return top, top3


@per_batch
def _ngrams(b: Batch) -> dict[str, np.ndarray]:
    """word_repetition of the documents of at least STATS_MIN_WORDS words (0 for the others)."""
    sc = b.scan
    n, w_doc = b.n, sc.w_doc
    long_doc = b[words] >= STATS_MIN_WORDS
    compact = np.cumsum(long_doc) - 1  # document number among the long ones
    lw = long_doc[w_doc]
    rep = word_repetition(compact[w_doc[lw]], sc.word_hash[lw], word_lengths(b)[lw], b[chars][long_doc])
    out = {}
    for c, values in rep.items():
        out[c] = np.zeros(n)
        out[c][long_doc] = values
    return out


@per_batch
def _repeated_segments(b: Batch) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per document of SHORT_STATS_MIN_WORDS words or more: lines, and paragraphs, repeating an earlier one, and
    their characters."""
    sc = b.scan
    some, some_compact, m_some = _some(b)
    out = {}
    for kind, start, end, doc in (("lines", sc.ls, sc.le, sc.l_doc), ("paragraphs", sc.ps, sc.pe, sc.p_doc)):
        keep = some[doc]
        hashes = sc.segment_hash(start, end)[keep]
        count, length = element_repetition(some_compact[doc[keep]], hashes, (end - start)[keep], m_some)
        counts, lengths = np.zeros(b.n), np.zeros(b.n)
        counts[some], lengths[some] = count, length
        out[kind] = counts, lengths
    return out


@batch_measure
def top_content_word(b: Batch) -> np.ndarray:
    """Occurrences of the most frequent word that is not a function word."""
    return _top_content_words(b)[0]


@batch_measure
def top3_content_words(b: Batch) -> np.ndarray:
    """Occurrences of the three most frequent words that are not function words, together."""
    return _top_content_words(b)[1]


def _ngram_measure(column: str, doc: str) -> BatchMeasure:
    return BatchMeasure(column, doc, lambda b: _ngrams(b)[column])


TOP_NGRAM = {k: _ngram_measure(f"top_{k}gram_char_frac", f"share of the characters in the most frequent repeated "
                                                         f"word {k}-gram") for k in TOP_NGRAM_SIZES}
DUP_NGRAM = {k: _ngram_measure(f"dup_{k}gram_char_frac", f"share of the words' characters inside repeated word "
                                                         f"{k}-grams (after their first occurrence)")
             for k in DUP_NGRAM_SIZES}


@batch_measure
def dup_lines(b: Batch) -> np.ndarray:
    """Lines that repeat an earlier line."""
    return _repeated_segments(b)["lines"][0]


@batch_measure
def dup_line_chars(b: Batch) -> np.ndarray:
    """Characters of the lines that repeat an earlier line."""
    return _repeated_segments(b)["lines"][1]


@batch_measure
def dup_paras(b: Batch) -> np.ndarray:
    """Paragraphs that repeat an earlier paragraph."""
    return _repeated_segments(b)["paragraphs"][0]


@batch_measure
def dup_para_chars(b: Batch) -> np.ndarray:
    """Characters of the paragraphs that repeat an earlier paragraph."""
    return _repeated_segments(b)["paragraphs"][1]


top_content_word_frac = ratio("top_content_word_frac", top_content_word, words,
                              "share of the words taken by the most frequent content word")
top3_content_word_frac = ratio("top3_content_word_frac", top3_content_words, words,
                               "share of the words taken by the three most frequent content words")
dup_line_frac = ratio("dup_line_frac", dup_lines, lines, "share of the lines that repeat an earlier line")
dup_line_char_frac = ratio("dup_line_char_frac", dup_line_chars, chars, "share of the characters in repeated lines")
dup_para_frac = ratio("dup_para_frac", dup_paras, paragraphs, "share of the paragraphs that repeat an earlier one")
dup_para_char_frac = ratio("dup_para_char_frac", dup_para_chars, chars,
                           "share of the characters in repeated paragraphs")
