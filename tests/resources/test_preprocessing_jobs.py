"""Preprocessing jobs: a worker reads one raw batch, runs the text pipeline and writes its parts."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl

import onett_resources.preprocessing_jobs as jobs
from conftest import corpus
from onett_resources.document_store import PartWriter
from onett_resources.submission_reader import RAW_SCHEMA


def _raw_part(path: Path, texts: list[str], file: str) -> pl.DataFrame:
    """One raw_submission part of `texts` in a single row group, as a job reads it."""
    raw = pl.DataFrame({"contributor_id": "c", "period": date(2026, 10, 1), "file": file,
                        "position": range(len(texts)), "doc_id": [f"d{i}" for i in range(len(texts))],
                        "submitted_at": datetime(2026, 10, 2, tzinfo=timezone.utc), "text": texts}, schema=RAW_SCHEMA)
    writer = PartWriter(path)
    writer.write(raw)
    writer.close()
    return raw


def test_large_raw_batch_is_preprocessed_in_slices(tmp_path, monkeypatch):
    """A raw row group larger than a job (written by an older version), or of more documents than a slice holds, is
    preprocessed slice by slice, with the same documents, counts and index as in one piece."""
    texts = [f"문서 {i}번입니다. 오늘은 날씨가 맑고 바람이 조금 불었습니다. 연락처는 010-1234-{i:04d}입니다." * (1 + i % 5)
             for i in range(40)] + [f"Document {i}: a plain English sentence about the weather." * 3 for i in range(20)]
    raw = _raw_part(tmp_path / "raw.parquet", texts, "f.jsonl")

    def run(max_chars: int, name: str):
        stats = jobs.preprocess_row_group(str(tmp_path / "raw.parquet"), 0, str(tmp_path / f"{name}-docs.parquet"),
                                          str(tmp_path / f"{name}-index.parquet"),
                                          str(tmp_path / f"{name}-passages.parquet"), "cl100k_base", False, max_chars)
        return stats.summary(), pl.read_parquet(tmp_path / f"{name}-docs.parquet")

    assert len(list(jobs._slices(raw, 10**9))) == 1 and len(list(jobs._slices(raw, 500))) > 5
    whole, whole_docs = run(10**9, "whole")
    sliced, sliced_docs = run(500, "sliced")
    monkeypatch.setattr(jobs, "SLICE_DOCUMENTS", 7)
    assert [len(piece) for piece in jobs._slices(raw, 10**9)] == [7] * 8 + [4]
    counted, counted_docs = run(10**9, "counted")
    index = lambda name: pl.read_parquet(tmp_path / f"{name}-index.parquet").unique("content_hash").sort("content_hash")  # noqa: E731
    cut = lambda name: pl.read_parquet(tmp_path / f"{name}-passages.parquet").unique("content_hash").sort("content_hash")  # noqa: E731
    for name, stats, docs in (("sliced", sliced, sliced_docs), ("counted", counted, counted_docs)):
        assert docs.equals(whole_docs)
        assert stats["tokens"] == whole["tokens"]
        assert stats["pii"]["pii_phone"] == whole["pii"]["pii_phone"] == sum(1 + i % 5 for i in range(40))
        assert index(name).equals(index("whole"))
        assert cut(name).equals(cut("whole"))
    # every kept text's passages add up to its tokens, and its token ids are its tokens
    kept = whole_docs.filter(pl.col("rejected_by") == "").unique("content_hash").select("content_hash", "tokens")
    joined = cut("whole").join(kept, on="content_hash")
    assert joined.height == kept.height > 0
    assert (joined["passage_tokens"].list.sum() == joined["tokens"]).all()
    assert (joined["token_ids"].list.len() == joined["tokens"]).all()


def test_a_batch_of_many_short_reviews_gives_the_same_parts_sliced_by_documents(tmp_path, monkeypatch):
    """Real short texts (movie reviews, a few dozen characters each: the batches whose memory follows their
    documents, not their characters), in one piece and in slices of 50 documents: the same parts."""
    texts = [d["text"] for d in corpus("ko_nsmc_reviews", "reviews.jsonl.gz", limit=1200)]
    raw = _raw_part(tmp_path / "raw.parquet", texts, "reviews.jsonl")

    def run(name: str) -> dict[str, pl.DataFrame]:
        paths = [str(tmp_path / f"{name}-{kind}.parquet") for kind in ("docs", "index", "passages")]
        jobs.preprocess_row_group(str(tmp_path / "raw.parquet"), 0, *paths, "cl100k_base", False, 2 << 20)
        docs, index, passages = (pl.read_parquet(path) for path in paths)
        return {"docs": docs, "index": index.unique("content_hash").sort("content_hash"),
                "passages": passages.unique("content_hash").sort("content_hash")}

    whole = run("whole")
    monkeypatch.setattr(jobs, "SLICE_DOCUMENTS", 50)
    assert len(list(jobs._slices(raw, 2 << 20))) == 24
    sliced = run("sliced")
    assert whole["docs"].height == 1200 and whole["index"].height > 100
    for kind in whole:
        assert sliced[kind].equals(whole[kind]), kind
