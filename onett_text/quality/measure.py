"""What a measure is, and how the measures a caller asks for are computed for a whole frame at once.

A measure is a named number per document; its name is its column in `measured`. Three kinds:
- `BatchMeasure`: numpy over the scan of a batch of about a megabyte of text (scan.py: code points, words, lines
  and paragraphs as flat arrays), a count, sum, maximum or hash over segments of those arrays. Arrays that several
  measures read (word lengths, word-list lookups, repeated n-grams...) are `per_batch` functions, computed once
  per batch by whichever measure asks first.
- `FrameMeasure`: over the whole frame at once (a regular expression run by polars, the spam classifier).
- `Derived`: a polars expression over other measures' columns (ratios, a choice by language). Every ratio is 0
  for a document that has nothing to divide by.

No Python loop runs per document or per word: Python only loops over batches (run on several threads, since numpy
releases the GIL in its array loops) and over the measures.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property, wraps

import numpy as np
import polars as pl

from onett_text.scan import Scan, cached, scan

BATCH_BYTES = 1 << 20  # text per scan batch: its arrays take about 50 bytes per byte of text
BATCH_DOCS = 1 << 19  # documents per scan batch at most: repetition keys hold the document number in 20 bits
THREADS = int(os.environ.get("ONETT_SCAN_THREADS") or min(4, os.cpu_count() or 1))  # batches measured at once


class Batch:
    """One scan batch: its texts (normalized, nulls as ''), their languages ('other' for none) and every array
    computed for it so far."""

    def __init__(self, texts: pl.Series, languages: np.ndarray, decoded: tuple | None = None):
        self.texts, self.languages, self._decoded = texts, languages, decoded
        self._values: dict = {}

    @cached_property
    def scan(self) -> Scan:
        return scan(self.texts, self._decoded)

    @property
    def n(self) -> int:
        return self.scan.n_docs

    def __getitem__(self, measure: BatchMeasure) -> np.ndarray:
        """The values of `measure` for this batch's documents (computed once)."""
        if measure not in self._values:
            self._values[measure] = measure.compute(self)
        return self._values[measure]


def per_batch(fn: Callable[[Batch], object]) -> Callable[[Batch], object]:
    """An intermediate several measures read, computed once per batch."""

    @wraps(fn)
    def shared(batch: Batch):
        if fn not in batch._values:
            batch._values[fn] = fn(batch)
        return batch._values[fn]

    return shared


@dataclass(frozen=True, eq=False)
class Measure:
    name: str  # the column in `measured`
    doc: str  # what it counts, for readers of rules and reports

    @property
    def needs(self) -> tuple[Measure, ...]:
        """The measures whose columns this one is computed from."""
        return ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


@dataclass(frozen=True, eq=False, repr=False)
class BatchMeasure(Measure):
    compute: Callable[[Batch], np.ndarray]


@dataclass(frozen=True, eq=False, repr=False)
class FrameMeasure(Measure):
    compute: Callable[[pl.DataFrame], pl.Series | np.ndarray]  # frame: `text` (nulls as '') and `language`


@dataclass(frozen=True, eq=False, repr=False)
class Derived(Measure):
    inputs: tuple[Measure, ...]
    expr: Callable[[pl.Series], pl.Expr]  # given the documents' `language`

    @property
    def needs(self) -> tuple[Measure, ...]:
        return self.inputs


def batch_measure(fn: Callable[[Batch], np.ndarray]) -> BatchMeasure:
    """A BatchMeasure named after the function, described by its docstring."""
    return BatchMeasure(fn.__name__, (fn.__doc__ or "").strip(), fn)


def frame_measure(fn: Callable[[pl.DataFrame], pl.Series | np.ndarray]) -> FrameMeasure:
    """A FrameMeasure named after the function, described by its docstring."""
    return FrameMeasure(fn.__name__, (fn.__doc__ or "").strip(), fn)


def _ratio(num: str, den: str) -> pl.Expr:
    return pl.when(pl.col(den) > 0).then(pl.col(num).cast(pl.Float64) / pl.col(den)).otherwise(0.0)


def ratio(name: str, num: Measure, den: Measure, doc: str, scale: int | None = None) -> Derived:
    """`num` / `den` (0 where `den` is 0), times `scale` if given."""
    expr = _ratio(num.name, den.name)
    if scale is not None:
        expr = expr * scale
    return Derived(name, doc, (num, den), lambda language: expr)


def by_language(name: str, ko: Derived, other: Derived, doc: str) -> Derived:
    """`ko` for Korean documents, `other` for every other one."""
    return Derived(name, doc, (*ko.needs, *other.needs),
                   lambda language: pl.when(language == "ko").then(ko.expr(language)).otherwise(other.expr(language)))


def constant(name: str, value: float, doc: str) -> Derived:
    return Derived(name, doc, (), lambda language: pl.lit(value))


def _closure(measures: Sequence[Measure]) -> list[Measure]:
    """`measures` and everything they are computed from, each once, inputs first."""
    seen: dict[Measure, None] = {}

    def visit(m: Measure) -> None:
        if m not in seen:
            for need in m.needs:
                visit(need)
            seen[m] = None

    for m in measures:
        visit(m)
    return list(seen)


def _batch_values(measures: list[BatchMeasure], texts: pl.Series, languages: np.ndarray,
                  decoded: tuple | None = None) -> list[np.ndarray]:
    batch = Batch(texts, languages, decoded)
    return [batch[m] for m in measures]


def compute(frame: pl.DataFrame, measures: Sequence[Measure]) -> pl.DataFrame:
    """One row per document of `frame` (columns `text`, normalized, and `language`), one column per measure of
    `measures`, in that order."""
    everything = _closure(measures)
    batch = [m for m in everything if isinstance(m, BatchMeasure)]
    texts = frame["text"].fill_null("")
    languages = frame["language"].fill_null("other").to_numpy()
    size = texts.str.len_bytes().to_numpy().astype(np.int64)
    # batches of about BATCH_BYTES of text and at most BATCH_DOCS documents
    by_bytes = (np.cumsum(size) - size) // BATCH_BYTES
    by_count = np.arange(len(size)) // BATCH_DOCS
    cuts = np.flatnonzero((np.diff(by_bytes) != 0) | (np.diff(by_count) != 0)) + 1
    bounds = [0, *cuts.tolist(), len(size)]
    known = cached(texts)  # decoded and counted by detect_language just before

    def decoded(a: int, b: int) -> tuple | None:
        if known is None:
            return None
        lo, hi = known.doc_char[a], known.doc_char[b]
        return known.cp[lo:hi], known.doc_char[a : b + 1] - lo, known.counts[a:b]

    jobs = [(texts.slice(a, b - a), languages[a:b], decoded(a, b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    if len(jobs) > 1 and THREADS > 1:
        # numpy releases the GIL in its array loops: batches overlap on several cores
        with ThreadPoolExecutor(THREADS) as pool:
            parts = list(pool.map(lambda job: _batch_values(batch, *job), jobs))
    else:
        parts = [_batch_values(batch, *job) for job in jobs]
    if not parts:
        parts = [_batch_values(batch, texts, languages)]
    columns: dict[str, pl.Series | np.ndarray] = {
        m.name: np.concatenate([p[i] for p in parts]) for i, m in enumerate(batch)}
    whole = frame.select(text=texts, language=frame["language"])
    columns |= {m.name: m.compute(whole) for m in everything if isinstance(m, FrameMeasure)}
    derived = [m.expr(frame["language"]).alias(m.name) for m in everything if isinstance(m, Derived)]
    out = pl.DataFrame(columns) if columns else whole  # (whole: only for its height, when nothing else is asked)
    if derived:
        out = out.with_columns(derived)
    return out.select([m.name for m in measures])
