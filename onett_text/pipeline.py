"""One batch of documents through every per-document step of preprocessing, declared as a list of named steps:

    normalize -> mask_pii -> tokenize -> language -> rules -> hash -> minhash -> passages

The pipeline times each step (CPU seconds) and counts what it did (documents in; values masked, tokens,
documents per language, documents and tokens removed per rule, texts signed), so step names, costs and counts all
come from `PIPELINE` (stats.py holds what a run reports).

Each document is tokenized once, on the text that would be paid for. The funnel's `raw` stage counts the text as
uploaded with only its whitespace tidied (line ends, runs of spaces, blank lines: whitespace is never paid for):
for the documents that Unicode clean-up or masking changed (invisible characters, decomposed Hangul, personal
data) only the changed lines are tokenized again (tokens.py). Counting the text exactly as uploaded
(`count_raw`, ONETT_COUNT_RAW_TOKENS=1) tokenizes most long documents twice (tidying changes 87% of the court
decisions' bytes and their lines), which costs markedly more tokenizer time. Nothing here depends on other batches,
so batches run on any number of processes in any order; what does depend on other documents (dedup credit) runs
afterwards in the warehouse.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import polars as pl
import pyarrow as pa

from onett_text import minhash, passages
from onett_text.hashing import content_hash
from onett_text.language import detect_language
from onett_text.minhash import INDEX_SCHEMA, index_frame
from onett_text.normalize import compose, tidied, visible
from onett_text.pii import PII_KINDS, mask_pii
from onett_text.quality import apply_rules
from onett_text.stats import PipelineStats, StepStats
from onett_text.tokens import encode, recount, verify

__all__ = ["INDEX_SCHEMA", "PASSAGES_SCHEMA", "PIPELINE", "STEP_NAMES", "Pipeline", "PipelineStats", "Preprocessed",
           "Step", "index_frame", "preprocess", "warm_up"]

PASSAGES_SCHEMA = {"content_hash": pl.String, "passages": pl.List(pl.UInt64), "passage_tokens": pl.List(pl.UInt32),
                   "token_ids": pl.List(pl.UInt32)}
"""One row per distinct kept text: its passage keys and their tokens (passage-level credit), and its token ids (the
recitation guard's verbatim index)."""


@dataclass
class BatchState:
    """A batch of documents on its way through the steps."""

    raw: pl.DataFrame  # as read: `text` as uploaded, and any other columns
    encoding: str  # the consumer's tiktoken encoding
    count_raw: bool = False  # count the raw stage's tokens on the text exactly as uploaded
    before: pl.Series | None = None  # each text as the raw stage counts it
    frame: pl.DataFrame | None = None  # the documents so far
    kept_texts: int = 0  # distinct kept texts
    index: pl.DataFrame | None = None  # the near-duplicate index rows
    ids: list[np.ndarray] | None = None  # each document's token ids, in `frame` order
    kept: pl.DataFrame | None = None  # row number and text of each distinct kept text
    passages: pl.DataFrame | None = None  # PASSAGES_SCHEMA rows

    @property
    def documents(self) -> int:
        return (self.raw if self.frame is None else self.frame).height


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[BatchState], None]  # does the step's work on the batch
    counts: Callable[[BatchState], dict] | None = None  # what it did, read off the batch afterwards (not timed)
    about: str = ""


class Pipeline:
    def __init__(self, steps: Sequence[Step]):
        self.steps = tuple(steps)
        if len(set(self.names)) != len(self.steps):
            raise ValueError(f"step names repeat: {self.names}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(step.name for step in self.steps)

    def run(self, batch: BatchState) -> PipelineStats:
        """Every step on `batch`, in order; the CPU seconds (time.process_time: what the step costs, whatever else
        the machine is doing), documents in and counts of each."""
        done = []
        for step in self.steps:
            documents = batch.documents
            start = time.process_time()
            step.run(batch)
            seconds = time.process_time() - start
            done.append(StepStats(step.name, seconds, documents, Counter(step.counts(batch) if step.counts else {})))
        return PipelineStats(tuple(done))


def _normalize(b: BatchState) -> None:
    raw = b.raw
    cleaned = compose(visible(raw["text"]))  # = clean_unicode, composing only what needs it
    normalized = tidied(cleaned)
    if b.count_raw:
        before = raw["text"]
    else:
        # The upload with only its whitespace tidied equals `normalized` unless Unicode clean-up changed it:
        # only those documents (few, bar CRLF files) are tidied on their own.
        before = normalized.clone()
        touched = (cleaned != raw["text"]).fill_null(True).arg_true()
        if len(touched):
            before.scatter(touched, tidied(raw["text"].gather(touched)))
    b.before = before
    b.frame = raw.with_columns(text=normalized)


def _mask_pii(b: BatchState) -> None:
    b.frame = mask_pii(b.frame)


def _masked(b: BatchState) -> dict:
    return {kind: int(b.frame[kind].sum()) for kind in PII_KINDS}


def _tokenize(b: BatchState) -> None:
    frame = b.frame
    texts = frame["text"].to_list()
    b.ids = [encode(text, b.encoding) for text in texts]
    verify(texts, b.ids, b.encoding)  # a sample against tiktoken: a disagreement stops the step
    tokens = np.fromiter((len(ids) for ids in b.ids), dtype=np.int64, count=len(b.ids))
    raw_tokens = tokens.copy()
    changed = (frame["text"] != b.before).fill_null(True).arg_true().to_numpy()
    if len(changed):
        raw_tokens[changed] = recount(frame["text"].gather(changed).to_list(), tokens[changed].tolist(),
                                      b.before.gather(changed).to_list(), b.encoding)
    # words: whitespace-separated units (a Korean eojeol is one word), what the 1T Club's membership counts
    b.frame = frame.with_columns(raw_tokens=pl.Series(raw_tokens), tokens=pl.Series(tokens),
                                 words=frame["text"].str.count_matches(r"\S+").cast(pl.Int64))


def _tokens(b: BatchState) -> dict:
    return {"raw_tokens": int(b.frame["raw_tokens"].sum()), "tokens": int(b.frame["tokens"].sum())}


def _language(b: BatchState) -> None:
    b.frame = detect_language(b.frame)


def _by_language(b: BatchState) -> dict:
    counts = {}
    for language, docs, tokens in b.frame.group_by("language").agg(docs=pl.len(), tokens=pl.col("tokens").sum()).rows():
        counts[("language", language, "documents")] = docs
        counts[("language", language, "tokens")] = tokens
    return counts


def _rules(b: BatchState) -> None:
    b.frame = apply_rules(b.frame)


def _removed(b: BatchState) -> dict:
    kept = b.frame["rejected_by"] == ""
    counts = {"kept_documents": int(kept.sum()), "kept_tokens": int(b.frame["tokens"].filter(kept).sum())}
    removed = b.frame.filter(~kept).group_by("filter_group", "rejected_by").agg(docs=pl.len(),
                                                                                tokens=pl.col("tokens").sum())
    for group, rule, docs, tokens in removed.rows():
        counts[("removed", group, rule, "documents")] = docs
        counts[("removed", group, rule, "tokens")] = tokens
    return counts


def _hash(b: BatchState) -> None:
    b.frame = b.frame.with_columns(content_hash=content_hash(b.frame["text"]))


def _minhash(b: BatchState) -> None:
    kept = (b.frame.with_row_index("row").filter(pl.col("rejected_by") == "")
            .unique("content_hash", keep="first", maintain_order=True))
    index = pl.DataFrame(schema=INDEX_SCHEMA)
    if kept.height:
        sigs, eligible = minhash.signatures(kept["text"].to_list())
        index = index_frame(kept["content_hash"].filter(pl.Series(eligible)), sigs[eligible])
    b.kept_texts, b.index, b.kept = kept.height, index, kept.select("row", "content_hash", "text")


def _signed(b: BatchState) -> dict:
    return {"minhash_texts": b.kept_texts, "signed": b.index.height}


def _passages(b: BatchState) -> None:
    texts, rows = b.kept["text"].to_list(), b.kept["row"].to_list()
    ids = [b.ids[row] for row in rows]
    keys, tokens, offsets = passages.batch_passages(texts, ids, b.encoding)
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    every = np.concatenate(ids).astype(np.uint32) if ids else np.zeros(0, np.uint32)
    b.passages = pl.DataFrame({
        "content_hash": b.kept["content_hash"],
        "passages": _lists(keys, offsets), "passage_tokens": _lists(tokens, offsets),
        "token_ids": _lists(every, np.concatenate([[0], np.cumsum(lengths)])),
    }, schema=PASSAGES_SCHEMA)


def _lists(values: np.ndarray, offsets: np.ndarray) -> pl.Series:
    """A list column from flat values and row offsets, without a Python object per row."""
    return pl.from_arrow(pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), pa.array(values)))


def _cut(b: BatchState) -> dict:
    return {"passages": int(b.passages["passages"].list.len().sum() or 0)}


PIPELINE = Pipeline([
    Step("normalize", _normalize, None, "Unicode clean-up (no invisible characters, NFC) and tidy whitespace"),
    Step("mask_pii", _mask_pii, _masked, "personal data replaced by placeholders (pii.py), values counted per kind"),
    Step("tokenize", _tokenize, _tokens, "tokens with the consumer's encoding, before and after clean-up and masking"),
    Step("language", _language, _by_language, "'ko', 'en' or 'other', from the letters"),
    Step("rules", _rules, _removed, "the quality rules: the first one a document fails, with its reason"),
    Step("hash", _hash, None, "content hash of the text, for exact dedup"),
    Step("minhash", _minhash, _signed, "MinHash signature and LSH band keys of each distinct kept text"),
    Step("passages", _passages, _cut, "passages of each distinct kept text (passage-level credit) and its token ids "
                                      "(the recitation guard)"),
])
STEP_NAMES = PIPELINE.names


class Preprocessed(NamedTuple):
    documents: pl.DataFrame  # the batch with `text` normalized and masked, counts, language, verdict, content hash
    index: pl.DataFrame  # INDEX_SCHEMA rows of the distinct kept texts long enough for MinHash
    passages: pl.DataFrame  # PASSAGES_SCHEMA rows of the distinct kept texts
    stats: PipelineStats


def preprocess(raw: pl.DataFrame, encoding: str, count_raw: bool = False) -> Preprocessed:
    """`raw` (columns of raw_submission, with `text` as uploaded) -> documents, index and what each step did.

    documents: `raw` with `text` normalized and masked, `raw_tokens`, `tokens`, the PII counts, `language`,
    `rejected_by` / `filter_group` / `reason` and `content_hash`. index: one row per distinct kept text long
    enough for MinHash, with its signature (NUM_PERM uint32 values) and LSH band keys."""
    batch = BatchState(raw, encoding, count_raw)
    stats = PIPELINE.run(batch)
    return Preprocessed(batch.frame, batch.index, batch.passages, stats)


def warm_up(encoding: str) -> None:
    """Loads the tokenizer and builds every table preprocessing uses, so a worker's first batch does not wait."""
    preprocess(pl.DataFrame({"text": ["따뜻한 봄날 오후에 우리는 공원을 천천히 걸었습니다. " * 8,
                                      "A short warm-up paragraph, written only to load the tables. " * 8]}), encoding)
