"""One written batch of raw documents through the text pipeline, as a job for a worker process: the worker reads
the batch (a Parquet row group) and writes its documents and index parts itself, and only the pipeline's stats
(counts and CPU seconds, never text) travel back. The process that runs the asset then holds no documents at all,
and spends no time shipping them, whatever the size of the upload. Kept free of Dagster: a worker starts faster."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from onett_domain.contracts import DOCUMENTS, validate
from onett_resources.parquet_parts import PartWriter, read_row_group
from onett_resources.worker_process import release_freed_memory
from onett_text.pipeline import PipelineStats, preprocess

# Documents preprocessed at once: a batch of very short texts (reviews, posts) costs memory per document (a 1 KiB
# signature, band keys, token ids: about 5 KiB each), more than its characters say.
SLICE_DOCUMENTS = 16_384


def preprocess_row_group(source: str, group: int, docs_path: str, index_path: str, passages_path: str,
                         encoding: str, count_raw: bool, max_chars: int) -> PipelineStats:
    """Row group `group` of the raw part `source` -> documents at `docs_path`, index at `index_path` (written only
    when the batch keeps a text long enough for MinHash), passages and token ids of the kept texts at
    `passages_path` (written only when the batch keeps a text); returns the pipeline's stats. Every batch of documents is
    checked against its contract before it is written: a violation fails the job, and with it the step.

    raw_submission writes row groups of about `max_chars` characters; a larger one (written by an older version), or
    one of more than SLICE_DOCUMENTS documents, is preprocessed in slices, so a worker's memory stays bounded either
    way."""
    raw = read_row_group(source, group)
    docs, index_part = PartWriter(Path(docs_path)), PartWriter(Path(index_path), compress=False)
    passages_part = PartWriter(Path(passages_path))
    stats, parts = PipelineStats(), (docs, index_part, passages_part)
    try:
        for piece in _slices(raw, max_chars):
            result = preprocess(piece, encoding, count_raw)
            docs.write(validate(DOCUMENTS, result.documents))
            index_part.write(result.index)
            passages_part.write(result.passages)
            stats = stats + result.stats
            del result
    except BaseException:
        for part in parts:
            part.discard()
        raise
    for part in parts:
        part.close()
    del raw
    release_freed_memory()
    return stats


def _slices(frame: pl.DataFrame, max_chars: int):
    """Consecutive slices of about `max_chars` characters of text (at least one document each, at most
    SLICE_DOCUMENTS)."""
    sizes = frame["text"].str.len_chars().fill_null(0).cum_sum().to_numpy()
    start = 0
    while start < frame.height:
        before = sizes[start - 1] if start else 0
        end = min(max(int(np.searchsorted(sizes, before + max_chars, side="right")), start + 1),
                  start + SLICE_DOCUMENTS)
        yield frame.slice(start, end - start)
        start = end
