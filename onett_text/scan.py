"""One pass over the UTF-8 bytes of a whole batch of texts: code points, and from them characters, words and lines
as flat numpy arrays. Every rule's measure is a sum, maximum or hash over segments of these arrays, so the quality
rules never loop over documents and never run a string operation per word (which costs more per word than the
whole array pass).

Conventions: the texts are normalized (normalize.py), so whitespace is a single space or newline, a blank line is
"\\n\\n" and there is no leading or trailing whitespace; the code still treats any run of whitespace as a separator.
A word is a maximal run of non-whitespace characters (a Korean eojeol), a line a maximal run of characters without
a newline (blank lines have none), a paragraph a run of lines between blank lines. What each character is comes
from the tables of charclass.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from onett_text.charclass import CLASS_ALL, PATTERN_ALL, PATTERNS, SPACE

_P = np.uint64(0x100000001B3)  # FNV prime: odd, so it has an inverse modulo 2**64
_P_INV = np.uint64(pow(int(_P), -1, 1 << 64))


_POWERS: list[tuple[np.ndarray, np.ndarray]] = []


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """P**i and P**-i modulo 2**64 for i < n, computed once and grown by doubling (shared by all batches)."""
    if not _POWERS or len(_POWERS[0][0]) < n:
        size = max(n, 2 * len(_POWERS[0][0]) if _POWERS else 1 << 20)
        pw = np.full(size, _P, np.uint64)
        pw[0] = 1
        inv = np.full(size, _P_INV, np.uint64)
        inv[0] = 1
        _POWERS[:] = [(np.cumprod(pw), np.cumprod(inv))]
    return _POWERS[0]


@dataclass
class Scan:
    n_docs: int
    cp: np.ndarray  # uint32 code point of every character
    char_doc: np.ndarray  # document of every character
    cls: np.ndarray  # uint32 class bits of every character
    doc_char: np.ndarray  # n_docs + 1 character offsets
    # words: [start, end) character positions, document, first word of a line
    ws: np.ndarray
    we: np.ndarray
    w_doc: np.ndarray
    w_line_start: np.ndarray
    # lines (non-empty): [start, end), document
    ls: np.ndarray
    le: np.ndarray
    l_doc: np.ndarray
    # paragraphs: [start, end), document
    ps: np.ndarray
    pe: np.ndarray
    p_doc: np.ndarray
    space: np.ndarray  # whitespace characters (word separators)
    newline: np.ndarray  # newline characters (line separators)
    blank: np.ndarray  # characters of blank-line separators (paragraph separators)

    def per_doc_chars(self, mask: np.ndarray) -> np.ndarray:
        """Per document: how many characters have `mask`."""
        return np.bincount(self.char_doc[mask], minlength=self.n_docs)

    def class_counts(self) -> np.ndarray:
        """(documents x count patterns) character counts; `count(bits)` sums the patterns that have those bits."""
        if not hasattr(self, "_counts"):
            self._counts = _pattern_counts(self.cp, self.doc_char)
        return self._counts

    def count(self, bits: int, without: int = 0) -> np.ndarray:
        """Per document: characters having any of `bits` and none of `without`."""
        use = ((PATTERNS & bits) != 0) & ((PATTERNS & without) == 0)
        return self.class_counts()[:, use].sum(axis=1)

    def per_doc(self, seg_doc: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Per document: the sum of `values` over its segments (words or lines) `seg_doc`."""
        return np.bincount(seg_doc, weights=values, minlength=self.n_docs)

    def word_sum(self, values: np.ndarray) -> np.ndarray:
        """Per document: the sum of boolean or integer `values` over its words, as float64 like per_doc. From
        prefix sums at the documents' first words: exact for integers and cheaper than bincount."""
        if not hasattr(self, "_doc_word"):
            self._doc_word = np.searchsorted(self.w_doc, np.arange(self.n_docs + 1))
        upto = np.zeros(len(values) + 1, np.int64)
        np.cumsum(values, out=upto[1:])
        return np.diff(upto[self._doc_word]).astype(np.float64)

    def segment_hash(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """64-bit polynomial hash of the code points of each segment [start, end): equal text, equal hash,
        wherever it is. A difference of prefix sums of cp[i] * P**i, shifted back by P**-start (all modulo 2**64),
        so words, lines and paragraphs share one pass over the characters."""
        if not len(start):
            return np.zeros(0, np.uint64)
        _, inv = self._pw
        prefix = self._prefix
        return (np.take(prefix, end) - np.take(prefix, start)) * np.take(inv, start)

    @property
    def word_bits(self) -> np.ndarray:
        """Per word: the class bits of its characters OR-ed together, e.g. whether it has a letter. One reduction
        from each word's start to the next one's, so the bits also hold the whitespace after the word (SPACE,
        NEWLINE; whitespace has no other bit)."""
        if not hasattr(self, "_word_bits"):
            self._word_bits = np.bitwise_or.reduceat(self.cls, self.ws) if len(self.ws) else np.zeros(0, np.uint32)
        return self._word_bits

    @property
    def word_hash(self) -> np.ndarray:
        """segment_hash of every word (as written: 'the' and 'The' differ, so do 'the' and 'the,')."""
        if not hasattr(self, "_word_hash"):
            self._word_hash = self.segment_hash(self.ws, self.we)
        return self._word_hash

    @property
    def _prefix(self) -> np.ndarray:
        if not hasattr(self, "_prefix_sums"):
            pw, _ = self._pw
            self._prefix_sums = np.zeros(len(self.cp) + 1, np.uint64)
            np.multiply(self.cp, pw[: len(self.cp)], out=self._prefix_sums[1:], dtype=np.uint64)
            np.cumsum(self._prefix_sums[1:], out=self._prefix_sums[1:])
        return self._prefix_sums

    @property
    def _pw(self):
        return _powers(len(self.cp) + 1)


def runs(flag: np.ndarray, doc_char: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[start, end) of the maximal runs of True in `flag`, never crossing a document boundary."""
    n = len(flag)
    start = flag.copy()
    start[1:] &= ~flag[:-1]
    end = flag.copy()
    end[:-1] &= ~flag[1:]
    inner = doc_char[1:-1]
    inner = inner[(inner > 0) & (inner < n)]
    start[inner] = flag[inner]
    end[inner - 1] = flag[inner - 1]
    return np.flatnonzero(start), np.flatnonzero(end) + 1


def _filled(texts: pl.Series) -> pl.Series:
    """`texts` with nulls as '' (fill_null copies every text, so only when there is a null)."""
    return texts.fill_null("") if texts.null_count() else texts


def _utf8(texts: pl.Series) -> tuple[bytes, np.ndarray]:
    """UTF-8 bytes of all texts concatenated (nulls as ''), and each text's byte offsets (from 0)."""
    arr = _filled(texts).to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_string())
    offsets = np.frombuffer(arr.buffers()[1], np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    raw = bytes(memoryview(data)[offsets[0] : offsets[-1]]) if data is not None and len(arr) else b""
    return raw, offsets - offsets[0]


def decode(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Code points (uint32) of all texts concatenated, and each text's character offsets. Python's UTF-8 codec
    does the decoding: one call for the whole batch, faster than decoding bytes with numpy."""
    return _decode(_utf8(texts)[0], texts)


def _decode(raw: bytes, texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    cp = np.frombuffer(raw.decode("utf-8").encode("utf-32-le"), np.uint32)
    doc_char = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(_filled(texts).str.len_chars().to_numpy(), out=doc_char[1:])
    return cp, doc_char


def _pattern_counts(cp: np.ndarray, doc_char: np.ndarray) -> np.ndarray:
    """(documents x count patterns) character counts: one bincount of document * k + pattern."""
    n, k = len(doc_char) - 1, len(PATTERNS)
    key = np.take(PATTERN_ALL, cp).astype(np.intp)  # adding int64 to int64 in place: cheaper than to uint8
    key += np.repeat(np.arange(0, n * k, k, dtype=np.intp), np.diff(doc_char))
    return np.bincount(key, minlength=n * k).reshape(n, k)


@dataclass
class Decoded:
    """A batch's code points and per-document class counts, kept with its UTF-8 bytes to recognize it."""

    raw: bytes
    offsets: np.ndarray
    cp: np.ndarray
    doc_char: np.ndarray
    counts: np.ndarray


CACHE_BYTES = 16 << 20  # batches up to this size of text are remembered (production batches are about 2 MB)
_LAST: list[Decoded] = []  # the last batch class_counts decoded


def cached(texts: pl.Series) -> Decoded | None:
    """What class_counts computed for exactly these texts (equal bytes and offsets), if it was the last batch it
    saw: the pipeline measures a batch right after detecting its language, and decoding and counting its
    characters again would be a noticeable part of the rules' time."""
    last = _LAST[0] if _LAST else None
    if last is None or len(texts) != len(last.offsets) - 1:
        return None
    if int(_filled(texts).str.len_bytes().sum() or 0) != len(last.raw):
        return None
    raw, offsets = _utf8(texts)
    same = np.array_equal(offsets, last.offsets) and np.array_equal(
        np.frombuffer(raw, np.uint8), np.frombuffer(last.raw, np.uint8))
    return last if same else None


def scan(texts: pl.Series, decoded: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> Scan:
    """Scan of `texts`; `decoded` (code points, character offsets, class counts) skips decoding them."""
    cp, doc_char, counts = decoded if decoded is not None else (*decode(texts), None)
    cls = np.take(CLASS_ALL, cp)
    space = (cls & SPACE) != 0
    newline = cp == 10
    ws, we = runs(~space, doc_char)
    ls, le = runs(~newline, doc_char)
    # drop "lines" made of spaces only (not produced by normalize, but harmless input): a line is kept when a word
    # starts in it, and its first word is the first to start at or after its start
    first_word = np.searchsorted(ws, ls)
    keep = (first_word < len(ws)) & (ws[np.minimum(first_word, max(len(ws) - 1, 0))] < le) if len(ws) else (
        np.zeros(len(ls), bool))
    ls, le, first_word = ls[keep], le[keep], first_word[keep]
    # paragraphs: runs without a blank line ("\n\n")
    blank = np.zeros(len(cp), bool)
    if len(cp) > 1:
        blank[:-1] = newline[:-1] & newline[1:]
        blank[1:] |= blank[:-1]
    ps, pe = runs(~blank, doc_char)
    n = len(doc_char) - 1
    char_doc = np.repeat(np.arange(n, dtype=np.int32), np.diff(doc_char))
    doc_of = lambda pos: char_doc[pos].astype(np.int64)  # noqa: E731
    w_doc = doc_of(ws)
    w_line_start = np.zeros(len(ws), bool)  # the word is the first of its line (and maybe of its document)
    w_line_start[first_word] = True
    sc = Scan(n, cp, char_doc, cls, doc_char, ws, we, w_doc, w_line_start, ls, le, doc_of(ls), ps, pe,
              doc_of(ps), space, newline, blank)
    if counts is not None:
        sc._counts = counts
    return sc


def class_counts(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(documents x count patterns) character counts and the PATTERNS they stand for, without splitting words
    or lines: the cheap pass language detection needs."""
    raw, offsets = _utf8(texts)
    cp, doc_char = _decode(raw, texts)
    counts = _pattern_counts(cp, doc_char)
    if len(raw) <= CACHE_BYTES:
        _LAST[:] = [Decoded(raw, offsets, cp, doc_char, counts)]
    return counts, PATTERNS
