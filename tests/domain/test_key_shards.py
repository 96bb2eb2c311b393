"""The first-come decision as shard jobs over the key shards (content-hash shards of the competing documents' keys)
gives, row for row, what the warehouse decides, on real uploads with exact and near copies across contributors, a
late-processed earlier upload, reference text and a withdrawal; the shards are rebuilt when the embedded decision
has passed them by or a file is lost, merged when they pile up, and leave no file behind."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from assets.scale_out_uploads import PETITIONS, fill, near_copy
from conftest import distinct_texts, seoul
from onett_domain.credit import decide, decision, key_shards
from onett_resources import load_settings
from onett_resources.document_store import DocumentStore
from onett_resources.warehouse import transaction

COMPARED = ("documents", "token_funnel", "near_pairs", "passage_texts", "passages")
COMPETING = "status IN ('accepted', 'duplicate', 'near_duplicate')"


def _pool_runner(fn, jobs):
    """Shard jobs in other processes, as an engine's workers run them (they see only the files)."""
    with ProcessPoolExecutor(2) as pool:
        yield from pool.map(fn, *zip(*jobs)) if jobs else ()


def _submissions(onett) -> list[tuple[str, date]]:
    return onett.query("SELECT DISTINCT contributor_id, period FROM documents ORDER BY ALL")


def _decide_all(onett, order: list[tuple[str, date]], run) -> None:
    """Every submission decided again from its filtered parts, in `order`, with its credit first wiped: what is
    stored afterwards comes from these decisions alone."""
    store = DocumentStore(base_dir=str(load_settings().storage_dir))
    conn = duckdb.connect(str(onett.warehouse))
    try:
        with transaction(conn):
            conn.execute(f"UPDATE documents SET status = 'accepted', reason = 'wiped', duplicate_of = '', "
                         f"similarity = NULL, rule = '', earns_from = NULL WHERE {COMPETING}")
        for contributor, period in order:
            parts = {kind: [str(p) for p in store.parts("filtered", contributor, period, kind)]
                     for kind in ("docs", "index", "passages")}
            with transaction(conn):
                decide(conn, contributor, period, parts["docs"], parts["index"], load_settings().policy.tz,
                       parts["passages"], run)
    finally:
        conn.close()


def _tables(onett) -> dict[str, list[tuple]]:
    return {t: onett.query(f"SELECT * FROM {t} ORDER BY ALL") for t in COMPARED}


@pytest.fixture
def platform(onett):
    """The scale-out uploads and a near copy of bob's, then alice's September essays withdrawn (their copies earn
    from then on)."""
    texts = distinct_texts(*PETITIONS, 15)
    fill(onett, texts)
    onett.drop("dana", "d.jsonl", [{"text": near_copy(texts[5])}, {"text": texts[13]}], seoul(2026, 10, 20, 9))
    onett.ok("ingest")
    (onett.landing / "alice" / "essays.jsonl").unlink()
    onett.ok("ingest")
    assert {s for (s,) in onett.query("SELECT DISTINCT status FROM documents")} >= {
        "accepted", "duplicate", "near_duplicate", "reference"}
    assert onett.query("SELECT count(*) FROM documents WHERE withdrawn_at IS NOT NULL")[0][0] > 0
    assert onett.query("SELECT count(*) FROM documents WHERE earns_from > submitted_at")[0][0] > 0
    return onett


def test_shard_jobs_decide_what_the_warehouse_decides_in_any_order(platform, monkeypatch):
    monkeypatch.setattr(key_shards, "MAX_FILES", 2)  # shards merged along the way
    monkeypatch.setattr(key_shards, "JOB_TEXTS", 3)  # decisions of many jobs (the other test: one job each)
    expected = _tables(platform)
    submissions = _submissions(platform)
    for order in (submissions, submissions[::-1]):
        _decide_all(platform, order, _pool_runner)
        got = _tables(platform)
        for table in COMPARED:
            assert got[table] == expected[table], f"{table} differs when decided on the shards in order {order}"
    versions = platform.query("SELECT contributor_id, period FROM credit_key_versions ORDER BY ALL")
    assert versions == platform.query(f"SELECT DISTINCT contributor_id, period FROM documents WHERE {COMPETING} "
                                      "ORDER BY ALL")
    base = platform.home / "onett.credit-keys"
    assert max(n for (n,) in platform.query("SELECT count(*) FROM credit_key_files GROUP BY shard")) <= 2
    assert platform.query("SELECT count(*) FROM credit_key_files WHERE file LIKE '%-merged-%'")[0][0] > 0
    # exactly the competing documents are live, each once
    files = [str(base / f) for (f,) in platform.query("SELECT file FROM credit_key_files")]
    conn = duckdb.connect(str(platform.warehouse), read_only=True)
    try:
        live = conn.execute(
            f"SELECT {key_shards.COLUMNS} FROM read_parquet(?, hive_partitioning = false) k "
            "SEMI JOIN credit_key_versions USING (contributor_id, period, generation) ORDER BY ALL", [files]).fetchall()
        stored = conn.execute(f"SELECT {key_shards.COLUMNS} FROM documents WHERE {COMPETING} ORDER BY ALL").fetchall()
    finally:
        conn.close()
    assert live == stored
    assert not list(base.glob(".decision-*")), "a decision's work files were left"
    platform.ok("ingest")  # sweeps: no file left that nothing names
    named = {base / f for (f,) in platform.query("SELECT file FROM credit_key_files")}
    assert set(base.glob("shard=*/*.parquet")) == named

    # `onett verify` compares the live rows with the documents, and names a row lost from a file
    assert f"{len(stored)} credit key row(s) compared" in platform.ok("verify")
    damaged = max(named, key=lambda path: pq.read_metadata(path).num_rows)
    pq.write_table(pq.read_table(damaged).slice(1), damaged)
    code, out = platform.cli("verify")
    assert code == 1 and "credit key shards: 1 competing document(s) without a live row" in out, out


def test_deciding_from_the_submission_on_equals_deciding_every_copy_again(platform, monkeypatch):
    """A run decides again only the documents submitted at or after its submission's earliest one, with the copies
    before as a summary per text and passage. Deciding every copy of every touched text again, in either order, here
    and on the shards, must store exactly what those runs stored."""
    # A late upload whose only earlier copies (exact and near) were withdrawn after it came in: it earns from the
    # withdrawal, which only the summary of the copies before it knows.
    texts = distinct_texts(*PETITIONS, 15)
    platform.drop("erin", "e.jsonl", [{"text": texts[2]}, {"text": near_copy(texts[3])}], seoul(2026, 11, 2, 9))
    platform.ok("ingest")
    late = platform.query("SELECT status, earns_from > submitted_at FROM documents WHERE contributor_id = 'erin'")
    assert late == [("accepted", True)] * 2, late
    expected = _tables(platform)
    load = decision._step
    full = {"submission_since": "SELECT '-infinity'::TIMESTAMPTZ AS since", "incoming_since": "SELECT 1"}
    monkeypatch.setattr(decision, "_step", lambda name: full.get(name) or load(name))
    submissions = _submissions(platform)
    for order, run in ((submissions, None), (submissions[::-1], _pool_runner)):
        _decide_all(platform, order, run)
        got = _tables(platform)
        for table in COMPARED:
            assert got[table] == expected[table], f"{table} differs when every copy is decided again ({order})"


def test_a_backfill_decided_in_slices_of_its_texts_equals_one_decision(platform, monkeypatch):
    """A large submission (a backfill) is decided in slices of its texts, a bounded number of rows each, so its
    memory holds however many later copies it decides again: first-come credit here (on the shards, their jobs) and
    passage credit. The slices must store exactly what one decision did."""
    expected = _tables(platform)
    monkeypatch.setattr(decision, "ONE_THREAD_TEXTS", 1)  # every submission decided as a backfill
    monkeypatch.setattr(decision, "SLICE_ROWS", 2)
    slices, in_slices = [], decision._in_slices
    monkeypatch.setattr(decision, "_in_slices",
                        lambda *a, **k: slices.append((a[2], in_slices(*a, **k))) or slices[-1][1])
    submissions = _submissions(platform)
    for order, run in ((submissions, None), (submissions[::-1], None), (submissions, _pool_runner)):
        _decide_all(platform, order, run)
        got = _tables(platform)
        for table in COMPARED:
            assert got[table] == expected[table], f"{table} differs when decided in slices ({order}, {run})"
    assert max(n for table, n in slices if table == "_decision") >= 3, slices
    assert max(n for table, n in slices if table == "_passage_credit") >= 3, slices


def test_the_shards_are_rebuilt_after_an_embedded_decision_and_when_a_file_is_lost(platform):
    expected = _tables(platform)
    submissions = _submissions(platform)
    _decide_all(platform, submissions, _pool_runner)
    assert platform.query("SELECT count(*) FROM credit_key_versions")[0][0] > 0
    _decide_all(platform, submissions[:1], None)  # decided here: the shards no longer follow the documents
    assert platform.query("SELECT count(*) FROM credit_key_versions") == [(0,)]
    assert platform.query("SELECT count(*) FROM credit_key_files") == [(0,)]
    _decide_all(platform, submissions, None)
    _decide_all(platform, submissions[::-1], _pool_runner)  # rebuilt from the documents by the first decision
    assert platform.query("SELECT count(*) FROM credit_key_files WHERE file LIKE '%-rebuilt-%'")[0][0] > 0
    assert _tables(platform) == expected
    lost = Path(platform.home / "onett.credit-keys" / platform.query("SELECT min(file) FROM credit_key_files")[0][0])
    lost.unlink()
    _decide_all(platform, submissions, _pool_runner)
    assert _tables(platform) == expected
    assert lost.name not in {Path(f).name for (f,) in platform.query("SELECT file FROM credit_key_files")}
