"""Measures over lines (non-empty lines) and paragraphs (blocks between blank lines): how many, how they start
and end, how short they are. Lists, menus and markup show in their lines long before they show in their words."""

from __future__ import annotations

import numpy as np

from onett_text.charclass import BULLET, CLOSER, DOT, ELLIPSIS, KO_FINAL, TERMINAL
from onett_text.quality.characters import newlines
from onett_text.quality.measure import Batch, batch_measure, by_language, per_batch, ratio
from onett_text.quality.words import words

SHORT_LINE_CHARS = 30  # FineWeb: a line of at most 30 characters is short


@per_batch
def line_ends(b: Batch) -> tuple[np.ndarray, ...]:
    """Per line: its length and the class bits of its last three characters (the line's own first character
    where it is shorter)."""
    sc = b.scan
    ls, le = sc.ls, sc.le
    cls = sc.cls
    return le - ls, cls[le - 1], cls[np.maximum(le - 2, ls)], cls[np.maximum(le - 3, ls)]


@per_batch
def terminal(b: Batch) -> np.ndarray:
    """Per line: whether it ends with sentence punctuation, possibly followed by one or two closing marks."""
    llen, last, before, before2 = line_ends(b)
    return ((last & TERMINAL) != 0) | (((last & CLOSER) != 0) & (llen >= 2) & ((before & TERMINAL) != 0)) | (
        ((last & CLOSER) != 0) & ((before & CLOSER) != 0) & (llen >= 3) & ((before2 & TERMINAL) != 0))


@batch_measure
def lines(b: Batch) -> np.ndarray:
    """Non-empty lines."""
    return np.bincount(b.scan.l_doc, minlength=b.n)


@batch_measure
def bullet_lines(b: Batch) -> np.ndarray:
    """Lines starting with a bullet (charclass.BULLET_CHARS)."""
    sc = b.scan
    if not len(sc.ls):
        return np.zeros(b.n)
    return sc.per_doc(sc.l_doc, (sc.cls[sc.ls] & BULLET) != 0)


@batch_measure
def terminal_lines(b: Batch) -> np.ndarray:
    """Lines ending a sentence with punctuation."""
    if not len(b.scan.ls):
        return np.zeros(b.n)
    return b.scan.per_doc(b.scan.l_doc, terminal(b))


@batch_measure
def terminal_lines_ko(b: Batch) -> np.ndarray:
    """Lines ending a sentence the Korean way: with punctuation or with a sentence-final syllable
    (lexicon.KO_FINAL_SYLLABLES), period or not."""
    if not len(b.scan.ls):
        return np.zeros(b.n)
    _, last, _, _ = line_ends(b)
    return b.scan.per_doc(b.scan.l_doc, terminal(b) | ((last & KO_FINAL) != 0))


@batch_measure
def ellipsis_lines(b: Batch) -> np.ndarray:
    """Lines ending in an ellipsis ('…' or three dots)."""
    if not len(b.scan.ls):
        return np.zeros(b.n)
    llen, last, before, before2 = line_ends(b)
    ellipsis_end = ((last & ELLIPSIS) != 0) | ((llen >= 3) & ((last & before & before2 & DOT) != 0))
    return b.scan.per_doc(b.scan.l_doc, ellipsis_end)


@batch_measure
def short_lines(b: Batch) -> np.ndarray:
    """Lines of at most SHORT_LINE_CHARS characters."""
    if not len(b.scan.ls):
        return np.zeros(b.n)
    llen, _, _, _ = line_ends(b)
    return b.scan.per_doc(b.scan.l_doc, llen <= SHORT_LINE_CHARS)


@batch_measure
def paragraphs(b: Batch) -> np.ndarray:
    """Paragraphs: blocks of text between blank lines."""
    return np.bincount(b.scan.p_doc, minlength=b.n)


bullet_line_frac = ratio("bullet_line_frac", bullet_lines, lines, "share of the lines that start with a bullet")
ellipsis_line_frac = ratio("ellipsis_line_frac", ellipsis_lines, lines, "share of the lines that end in an ellipsis")
terminal_line_frac = by_language(
    "terminal_line_frac",
    ratio("terminal_line_frac_ko", terminal_lines_ko, lines, "Korean: terminal_lines_ko per line"),
    ratio("terminal_line_frac_other", terminal_lines, lines, "terminal_lines per line"),
    "share of the lines that end a sentence (Korean: also with a sentence-final syllable)",
)
short_line_frac = ratio("short_line_frac", short_lines, lines, "share of the lines of at most 30 characters")
newline_ratio = ratio("newline_ratio", newlines, words, "line breaks per word")
