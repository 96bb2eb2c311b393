"""Regular-expression rewrites of a text column that touch only the texts a pattern is in.

`str.replace_all` over a column scans every text and builds the whole column again, though for most patterns
(personal data, control characters, runs of spaces) most texts hold no match. A search scans too, but then only the
texts it found are rewritten, and a pass that changed nothing in a text finds nothing there the next time: a repeated
pass runs only on the texts the one before it changed. The results equal the same rewrite of the whole column."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl


def replace_where(texts: pl.Series, pattern: str, replacement: str, passes: int = 1) -> pl.Series:
    """`texts` with `pattern` replaced by `replacement` (polars' `str.replace_all`), `passes` times over."""
    texts = texts.clone()  # scatter writes into its series; the clone shares the caller's buffers until then
    rows = texts.str.contains(pattern).fill_null(False).arg_true()
    for _ in range(passes):
        if not len(rows):
            break
        before = texts.gather(rows)
        after = before.str.replace_all(pattern, replacement)
        texts.scatter(rows, after)
        rows = rows.filter(after != before)
    return texts


def rewrite_where(texts: pl.Series, finds: str, rewrite: Callable[[pl.Expr], pl.Expr]) -> pl.Series:
    """`rewrite` (string expressions) applied to the texts in which `finds` matches, the others kept: the same
    column as `rewrite` of every text, where `rewrite` changes no text that `finds` does not match."""
    rows = texts.str.contains(finds).fill_null(False).arg_true()
    if not len(rows):
        return texts
    done = texts.gather(rows).to_frame("text").select(rewrite(pl.col("text"))).to_series()
    return texts.clone().scatter(rows, done)
