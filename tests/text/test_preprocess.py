"""The preprocessing pipeline as a list of declared steps: its step names, and stats (CPU seconds and counts per
step) that add up across batches to what the documents themselves say and survive pickling (they travel back from
worker processes)."""

from __future__ import annotations

import pickle

import polars as pl
import pytest

from conftest import corpus
from onett_text.minhash import INDEX_SCHEMA
from onett_text.pii import PII_KINDS
from onett_text.pipeline import PIPELINE, STEP_NAMES, PipelineStats, preprocess

ENCODING = "cl100k_base"


def test_step_names_come_from_the_declared_steps():
    assert STEP_NAMES == ("normalize", "mask_pii", "tokenize", "language", "rules", "hash", "minhash",
                          "passages")
    assert STEP_NAMES == tuple(step.name for step in PIPELINE.steps)


@pytest.fixture(scope="module")
def batches() -> list[pl.DataFrame]:
    texts = [d["text"] for d in corpus("ko_petitions", "petitions.jsonl.gz", limit=200)]
    texts += [d["text"] for d in corpus("en_spamassassin_emails", "emails_body.jsonl.gz", limit=200)]
    texts += ["", "ㅋㅋ", "연락처는 010-1234-5678 입니다. " * 10, "Write to hong@example.com today. " * 10] * 3
    frame = pl.DataFrame({"position": range(len(texts)), "text": texts})
    return [frame.slice(0, 150), frame.slice(150, 200), frame.slice(350)]


def test_stats_add_up_to_what_the_documents_say(batches):
    results = [preprocess(batch, ENCODING) for batch in batches]
    stats = PipelineStats.merge(r.stats for r in results)
    docs = pl.concat([r.documents for r in results])
    kept = docs["rejected_by"] == ""
    summary = stats.summary()

    assert summary["documents"] == docs.height == sum(b.height for b in batches)
    assert summary["raw_tokens"] == docs["raw_tokens"].sum() and summary["tokens"] == docs["tokens"].sum()
    assert summary["kept_documents"] == kept.sum() and summary["kept_tokens"] == docs["tokens"].filter(kept).sum()
    assert summary["pii"] == {kind: docs[kind].sum() for kind in PII_KINDS}
    assert summary["pii"]["pii_phone"] >= 3 and summary["pii"]["pii_email"] >= 3
    languages = docs.group_by("language").agg(docs=pl.len(), tokens=pl.col("tokens").sum()).sort("language")
    assert summary["languages"] == languages.rows()
    removed = docs.filter(~kept).group_by("filter_group", "rejected_by").agg(
        docs=pl.len(), tokens=pl.col("tokens").sum()).sort("filter_group", "rejected_by")
    assert summary["rules"] == removed.rows() and len(summary["rules"]) > 3
    assert summary["minhash"]["signed"] == sum(r.index.height for r in results) > 0
    assert all(r.index.schema == pl.Schema(INDEX_SCHEMA) for r in results)

    assert list(stats.cpu_seconds()) == list(STEP_NAMES) and min(stats.cpu_seconds().values()) >= 0
    assert all(stats[name].documents == docs.height for name in STEP_NAMES)
    assert sum(r.stats for r in results) == results[0].stats + results[1].stats + results[2].stats == stats
    assert pickle.loads(pickle.dumps(stats)) == stats


def test_an_empty_batch_counts_nothing():
    result = preprocess(pl.DataFrame({"text": pl.Series([], dtype=pl.String)}), ENCODING)
    assert result.documents.height == result.index.height == 0
    summary = result.stats.summary()
    assert summary["documents"] == summary["tokens"] == 0 and summary["languages"] == summary["rules"] == []
    assert PipelineStats().summary()["documents"] == 0
