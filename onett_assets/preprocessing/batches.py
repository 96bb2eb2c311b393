"""One written batch of raw documents through `preprocess`, as a job for a worker process: the worker reads the
batch (a Parquet row group) and writes its documents and index parts itself, and only a summary (counts, never
text) travels back. The process that runs the asset then holds no documents at all, and spends no time shipping
and compressing them, whatever the size of the upload."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from onett_assets.preprocessing.pii import PII_KINDS
from onett_assets.preprocessing.pipeline import preprocess
from onett_assets.reporting import markdown_table
from onett_resources.parquet_parts import PartWriter, read_row_group
from onett_resources.worker_process import release_freed_memory


def preprocess_row_group(source: str, group: int, docs_path: str, index_path: str, encoding: str,
                         count_raw: bool, max_chars: int) -> tuple[list[dict], dict[str, float]]:
    """Row group `group` of the raw part `source` -> documents at `docs_path`, index at `index_path` (written
    only when the batch keeps a text long enough for MinHash); returns (summaries, CPU seconds per step).

    raw_submission writes row groups of about `max_chars` characters; a larger one (written by an older version)
    is preprocessed in slices of that size, so a worker's memory stays bounded either way."""
    raw = read_row_group(source, group)
    docs, index_part = PartWriter(Path(docs_path)), PartWriter(Path(index_path), compress=False)
    summaries, seconds = [], {}
    try:
        for piece in _slices(raw, max_chars):
            frame, index, spent = preprocess(piece, encoding, count_raw)
            docs.write(frame)
            index_part.write(index)
            summaries.append(summarize_batch(frame))
            for step, value in spent.items():
                seconds[step] = seconds.get(step, 0.0) + value
            del frame, index
    finally:
        docs.close()
        index_part.close()
    del raw
    release_freed_memory()
    return summaries, seconds


def _slices(frame: pl.DataFrame, max_chars: int):
    """Consecutive slices of about `max_chars` characters of text (at least one document each)."""
    sizes = frame["text"].str.len_chars().fill_null(0).cum_sum().to_numpy()
    start = 0
    while start < frame.height:
        before = sizes[start - 1] if start else 0
        end = max(int(np.searchsorted(sizes, before + max_chars, side="right")), start + 1)
        yield frame.slice(start, end - start)
        start = end


def summarize_batch(frame: pl.DataFrame) -> dict:
    """What `filtered` reports, for one batch (small: counts only, never text)."""
    kept = frame["rejected_by"] == ""
    return {
        "documents": frame.height,
        "raw_tokens": int(frame["raw_tokens"].sum()),
        "tokens": int(frame["tokens"].sum()),
        "kept_documents": int(kept.sum()),
        "kept_tokens": int(frame["tokens"].filter(kept).sum()),
        "pii": {kind: int(frame[kind].sum()) for kind in PII_KINDS},
        "languages": frame.group_by("language").agg(docs=pl.len(), tokens=pl.col("tokens").sum()),
        "rules": frame.filter(~kept).group_by("filter_group", "rejected_by").agg(
            docs=pl.len(), tokens=pl.col("tokens").sum()),
    }


def combine_summaries(parts: list[dict]) -> dict:
    """The batches' summaries as the metadata of `filtered`."""
    from dagster import MetadataValue  # here: the workers that import this module never load Dagster

    total = lambda key: sum(p[key] for p in parts)  # noqa: E731

    def merged(key: str, by: list[str]) -> pl.DataFrame:
        frames = [p[key] for p in parts if p[key].height]
        if not frames:
            return pl.DataFrame()
        return pl.concat(frames).group_by(by).agg(pl.col("docs").sum(), pl.col("tokens").sum()).sort(by)

    languages, by_rule = merged("languages", ["language"]), merged("rules", ["filter_group", "rejected_by"])
    masked = {kind: sum(p["pii"][kind] for p in parts) for kind in PII_KINDS}
    return {
        "documents in": total("documents"),
        "tokens in": total("raw_tokens"),
        "tokens after normalization and masking": total("tokens"),
        "documents kept": total("kept_documents"),
        "tokens kept": total("kept_tokens"),
        "personal data masked": MetadataValue.md(
            markdown_table(["kind", "values masked"], [[k.removeprefix("pii_"), n] for k, n in masked.items()])
        ),
        "languages": MetadataValue.md(
            markdown_table(["language", "documents", "tokens"], languages.rows()) if languages.height else "none"),
        "removed by rule": MetadataValue.md(
            markdown_table(["stage", "rule", "documents", "tokens"], by_rule.rows()) if by_rule.height else "nothing removed"
        ),
    }
