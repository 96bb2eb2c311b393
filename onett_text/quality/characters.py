"""Measures that count characters: length, scripts, and the symbols some rules look for (hashtags, ellipses,
curly brackets). Counts come from the scan's per-document class counts, one bincount for all of them."""

from __future__ import annotations

import numpy as np

from onett_text.charclass import (
    CURLY, DOT, ELLIPSIS, HAN, HANGUL, HANGUL_COMMON, HASH, JAMO, LATIN, LETTER, NEWLINE, NUMBER, SPACE,
)
from onett_text.quality.measure import Batch, batch_measure, constant, ratio
from onett_text.scan import runs


@batch_measure
def chars(b: Batch) -> np.ndarray:
    """Characters of the text."""
    return np.diff(b.scan.doc_char)


@batch_measure
def letters(b: Batch) -> np.ndarray:
    """Letters of any script."""
    return b.scan.count(LETTER)


@batch_measure
def letters_digits(b: Batch) -> np.ndarray:
    """Letters and digits of any script (a Hangul syllable counts like a Latin letter)."""
    return b.scan.count(LETTER | NUMBER)


@batch_measure
def hangul(b: Batch) -> np.ndarray:
    """Hangul syllables and jamo."""
    return b.scan.count(HANGUL | JAMO)


@batch_measure
def hangul_syllables(b: Batch) -> np.ndarray:
    """Hangul syllables."""
    return b.scan.count(HANGUL)


@batch_measure
def rare_hangul(b: Batch) -> np.ndarray:
    """Hangul syllables outside KS X 1001's 2,350 everyday ones."""
    return b.scan.count(HANGUL, without=HANGUL_COMMON)


@batch_measure
def latin(b: Batch) -> np.ndarray:
    """Latin letters."""
    return b.scan.count(LATIN)


@batch_measure
def han(b: Batch) -> np.ndarray:
    """Hanja (Chinese characters)."""
    return b.scan.count(HAN)


@batch_measure
def newlines(b: Batch) -> np.ndarray:
    """Line breaks."""
    return b.scan.count(NEWLINE)


@batch_measure
def curly(b: Batch) -> np.ndarray:
    """Curly brackets, '{' or '}'."""
    return b.scan.count(CURLY)


@batch_measure
def hashtags(b: Batch) -> np.ndarray:
    """Hashtags: a '#' followed by something other than whitespace or another '#' ('#tag', not a Markdown
    heading: statutes mark every article with '#####')."""
    sc = b.scan
    cls = sc.cls
    hashtag = (cls & HASH) != 0
    hashtag[:-1] &= (cls[1:] & (SPACE | HASH)) == 0
    if len(hashtag):
        hashtag[-1] = False
    hashtag[sc.doc_char[1:-1][sc.doc_char[1:-1] > 0] - 1] = False  # a '#' ending a document is not a hashtag
    return sc.per_doc_chars(hashtag)


@batch_measure
def ellipses(b: Batch) -> np.ndarray:
    """Ellipses: '…' or every three dots of a run of dots (as re.findall(r"\\.\\.\\.|…") counts them)."""
    sc = b.scan
    dot_start, dot_end = runs((sc.cls & DOT) != 0, sc.doc_char)
    return sc.count(ELLIPSIS) + np.bincount(sc.char_doc[dot_start], weights=(dot_end - dot_start) // 3,
                                            minlength=b.n).astype(np.int64)


rare_hangul_frac = ratio("rare_hangul_frac", rare_hangul, hangul_syllables,
                         "share of the Hangul syllables that are outside KS X 1001's everyday ones")

unsupported = constant("unsupported", 1.0, "1 for every document: the rule `unsupported_language` judges the "
                                           "detected language alone (its only threshold, 0, is set for 'other')")
