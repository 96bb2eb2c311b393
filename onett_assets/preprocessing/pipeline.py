"""One batch of documents through every per-document step of preprocessing, in order:

    normalize -> mask personal data -> count tokens -> identify language -> quality rules -> hash -> MinHash

Each document is tokenized once, on the text that would be paid for. The funnel's `raw` stage counts the text as
uploaded with only its whitespace tidied (line ends, runs of spaces, blank lines: whitespace is never paid for):
for the documents that Unicode clean-up or masking changed (invisible characters, decomposed Hangul, personal
data) only the changed lines are tokenized again (tokens.py). Counting the text exactly as uploaded
(ONETT_COUNT_RAW_TOKENS=1) tokenizes most long documents twice (tidying changes 87% of the court decisions' bytes
and their lines): 1.6x the tokenizer's time. Nothing here
depends on other batches, so batches run on any number of processes in any order; what does depend on other
documents (dedup credit) runs afterwards in the warehouse.
"""

from __future__ import annotations

import time

import numpy as np
import polars as pl

from onett_assets.preprocessing import near_dedup
from onett_assets.preprocessing.filters import apply_rules
from onett_assets.preprocessing.hashing import content_hash
from onett_assets.preprocessing.language import detect_language
from onett_assets.preprocessing.normalize import compose, remove_invisible, tidy_whitespace
from onett_assets.preprocessing.pii import mask_pii
from onett_assets.preprocessing.tokens import count_tokens, recount

STEPS = ("normalize", "mask_pii", "tokenize", "language", "rules", "hash", "minhash")
INDEX_SCHEMA = {"content_hash": pl.String, "signature": pl.Array(pl.UInt32, near_dedup.NUM_PERM),
                "bands": pl.Array(pl.Int64, near_dedup.BANDS)}


def preprocess(raw: pl.DataFrame, encoding: str, count_raw: bool = False) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, float]]:
    """`raw` (columns of raw_submission, with `text` as uploaded) -> (documents, index, CPU seconds per step).

    documents: `raw` with `text` normalized and masked, `raw_tokens`, `tokens`, the PII counts, `language`,
    `rejected_by` / `filter_group` / `reason` and `content_hash`. index: one row per distinct kept text long
    enough for MinHash, with its signature (NUM_PERM uint32 values) and LSH band keys."""
    seconds: dict[str, float] = {}
    clock = time.process_time()  # CPU time: what the step costs, whatever else the machine is doing

    def lap(step: str) -> None:
        nonlocal clock
        now = time.process_time()
        seconds[step] = seconds.get(step, 0.0) + now - clock
        clock = now

    cleaned = compose(raw.select(remove_invisible(pl.col("text")))["text"])  # = clean_unicode, composing only what needs it
    normalized = cleaned.to_frame().select(tidy_whitespace(pl.col("text")))["text"]
    if count_raw:
        before = raw["text"]
    else:
        # The upload with only its whitespace tidied equals `normalized` unless Unicode clean-up changed it:
        # only those documents (few, bar CRLF files) are tidied on their own.
        before = normalized.clone()
        touched = (cleaned != raw["text"]).fill_null(True).arg_true()
        if len(touched):
            before.scatter(touched, raw["text"].gather(touched).to_frame().select(tidy_whitespace(pl.col("text")))["text"])
    frame = raw.with_columns(text=normalized)
    lap("normalize")
    frame = mask_pii(frame)
    lap("mask_pii")
    tokens = np.asarray(count_tokens(frame["text"].to_list(), encoding), dtype=np.int64)
    raw_tokens = tokens.copy()
    changed = (frame["text"] != before).fill_null(True).arg_true().to_numpy()
    if len(changed):
        raw_tokens[changed] = recount(frame["text"].gather(changed).to_list(), tokens[changed].tolist(),
                                      before.gather(changed).to_list(), encoding)
    frame = frame.with_columns(raw_tokens=pl.Series(raw_tokens), tokens=pl.Series(tokens))
    lap("tokenize")
    frame = detect_language(frame)
    lap("language")
    frame = apply_rules(frame)
    lap("rules")
    frame = frame.with_columns(content_hash=content_hash(frame["text"]))
    lap("hash")
    kept = frame.filter(pl.col("rejected_by") == "").unique("content_hash", keep="first", maintain_order=True)
    index = pl.DataFrame(schema=INDEX_SCHEMA)
    if kept.height:
        sigs, eligible = near_dedup.signatures(kept["text"].to_list())
        index = index_frame(kept["content_hash"].filter(pl.Series(eligible)), sigs[eligible])
    lap("minhash")
    return frame, index, seconds


def index_frame(hashes: list[str] | pl.Series, sigs: np.ndarray) -> pl.DataFrame:
    """Near-duplicate index rows (texts eligible for MinHash only): content hash, signature, LSH band keys."""
    return pl.DataFrame(
        {"content_hash": hashes, "signature": sigs.astype(np.uint32, casting="safe"),
         "bands": near_dedup.band_keys(sigs).astype(np.int64)},
        schema=INDEX_SCHEMA,
    )


def warm_up(encoding: str) -> None:
    """Loads the tokenizer and builds every table preprocessing uses, so a worker's first batch does not wait."""
    preprocess(pl.DataFrame({"text": ["따뜻한 봄날 오후에 우리는 공원을 천천히 걸었습니다. " * 8,
                                      "A short warm-up paragraph, written only to load the tables. " * 8]}), encoding)
