"""Normalization: text that only looks different must not count twice or cost more tokens."""

from __future__ import annotations

import unicodedata

import polars as pl

from onett_text.rewrite import rewrite_where

# Zero-width characters, BOMs, soft hyphens and bidirectional marks: invisible, yet each costs tokens.
_INVISIBLE = "[" + "".join(
    chr(c) for c in [0x00AD, 0x180E, *range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x2065), 0xFEFF]
) + "]"
# C0/C1 control characters except tab and newline.
_CONTROL = "[" + "".join(chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]) + "]"
# Horizontal spaces, including no-break and the ideographic space common in Korean documents: a run of them
# becomes one space. Only runs that are not already a single space are matched (most runs are).
_SPACE = " \t\u00a0\u2000-\u200a\u202f\u205f\u3000"
_SPACES = f"[{_SPACE}]*[\t\u00a0\u2000-\u200a\u202f\u205f\u3000][{_SPACE}]*| {{2,}}"


# (pattern, replacement) in order. A step only changes a text its pattern is in, and a text that no step's pattern
# is in stays as it is through all of them: `tidied` and `visible` rewrite only the texts one of them finds.
_TIDY = (("\r\n?", "\n"), (_SPACES, " "), ("(?m) +$", ""), ("(?m)^ +", ""), ("\n{3,}", "\n\n"))
_VISIBLE = (("\r\n?", "\n"), (_INVISIBLE, ""), (_CONTROL, ""))
_UNTIDY = "|".join(f"(?:{pattern})" for pattern, _ in _TIDY) + r"|^\s|\s$"  # or whitespace to strip at either end
_HIDDEN = "|".join(f"(?:{pattern})" for pattern, _ in _VISIBLE)


def _replaced(text: pl.Expr, steps: tuple[tuple[str, str], ...]) -> pl.Expr:
    for pattern, replacement in steps:
        text = text.str.replace_all(pattern, replacement)
    return text


def tidy_whitespace(text: pl.Expr) -> pl.Expr:
    """Unix line ends, single spaces, no spaces at line ends, at most one blank line, nothing around the text."""
    return _replaced(text, _TIDY).str.strip_chars()


def remove_invisible(text: pl.Expr) -> pl.Expr:
    """Unix line ends, no invisible or control characters."""
    return _replaced(text, _VISIBLE)


def tidied(texts: pl.Series) -> pl.Series:
    """`tidy_whitespace` of a column, searched once: most texts are tidy already and are not rewritten."""
    return rewrite_where(texts, _UNTIDY, tidy_whitespace)


def visible(texts: pl.Series) -> pl.Series:
    """`remove_invisible` of a column, searched once: few texts hold a carriage return or an invisible character."""
    return rewrite_where(texts, _HIDDEN, remove_invisible)


def clean_unicode(text: pl.Expr) -> pl.Expr:
    """Unix line ends, no invisible or control characters, NFC (Hangul is never left as jamo)."""
    # Remove before composing: a zero-width space between jamo would otherwise keep them apart.
    return remove_invisible(text).str.normalize("NFC")


def compose(texts: pl.Series) -> pl.Series:
    """NFC, composing only the texts not in NFC already: Python's quick check costs far less than composing, and
    almost every text passes it. Equal to `texts.str.normalize("NFC")`."""
    todo = [i for i, t in enumerate(texts.to_list()) if t is not None and not unicodedata.is_normalized("NFC", t)]
    if not todo:
        return texts
    return texts.clone().scatter(todo, texts.gather(todo).str.normalize("NFC"))


def normalize_text(text: pl.Expr) -> pl.Expr:
    """NFC, no invisible or control characters, tidy whitespace."""
    return tidy_whitespace(clean_unicode(text))
