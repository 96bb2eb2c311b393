"""The credit decision owns its scratch tables and is idempotent: deciding a submission again changes nothing."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from conftest import distinct_texts, seoul
from onett_domain.credit import decide, decision
from onett_domain.sql import Scratch
from onett_resources import load_settings
from onett_resources.document_store import DocumentStore
from onett_resources.warehouse import transaction


@pytest.mark.parametrize("large", [False, True], ids=["as a submission", "as a backfill"])
def test_deciding_again_changes_nothing_and_leaves_no_scratch_tables(onett, monkeypatch, large):
    """Decided again as a large submission is (every competing document read where the decision joins it, not
    gathered first), the same documents get the same credit."""
    if large:
        monkeypatch.setattr(decision, "ONE_THREAD_TEXTS", 0)
    texts = distinct_texts("ko_petitions", "petitions.jsonl.gz", 6)
    onett.drop("amy", "a.jsonl", [{"text": t} for t in texts[:4]], seoul(2026, 10, 2, 9))
    words = texts[0].split()
    onett.drop("bob", "b.jsonl", [{"text": t} for t in texts[3:6] + [" ".join(words[:4] + words[5:])]],
               seoul(2026, 10, 5, 9))
    onett.ok("ingest")
    before = {t: onett.query(f"SELECT * FROM {t} ORDER BY ALL") for t in ("documents", "token_funnel", "near_pairs",
                                                                          "passage_texts", "passages")}
    assert {s for (s,) in onett.query("SELECT DISTINCT status FROM documents")} >= {"accepted", "duplicate",
                                                                                  "near_duplicate"}

    store = DocumentStore(base_dir=str(load_settings().storage_dir))
    october = date(2026, 10, 1)
    documents = [str(p) for p in store.parts("filtered", "bob", october, "docs")]
    index = [str(p) for p in store.parts("filtered", "bob", october, "index")]
    passages = [str(p) for p in store.parts("filtered", "bob", october, "passages")]
    assert passages
    conn = duckdb.connect(str(onett.warehouse))
    conn.execute("SET threads = 1")  # as ONETT_WAREHOUSE_THREADS=1 sets it: a backfill's slices keep to it
    sliced = []
    in_slices = decision._in_slices
    monkeypatch.setattr(decision, "_in_slices", lambda *a, **k: sliced.append(k["threads"]) or in_slices(*a, **k))
    try:
        with transaction(conn):
            outcome = decide(conn, "bob", october, documents, index, load_settings().policy.tz, passages)
        scratch = conn.execute("SELECT table_name FROM duckdb_tables() WHERE temporary UNION ALL "
                               "SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal").fetchall()
    finally:
        conn.close()
    assert scratch == []
    assert sliced == ([1, 1] if large else [None, None])
    assert outcome.documents("duplicate") == 1 and outcome.documents("near_duplicate") == 1
    assert outcome.others_moved == []  # nothing moved: amy keeps her credit
    assert {t: onett.query(f"SELECT * FROM {t} ORDER BY ALL") for t in before} == before


@pytest.mark.parametrize("backfill", [False, True], ids=["a submission", "a backfill"])
def test_a_backfills_slices_run_on_their_own_threads_and_give_the_connection_back(monkeypatch, backfill):
    """A backfill is decided on one DuckDB thread, but its slices, each of bounded size, on SLICE_THREADS; a
    submission's one statement on the connection's own."""
    monkeypatch.setattr(decision, "SLICE_ROWS", 4)
    conn = duckdb.connect()
    conn.execute("SET threads = 1")
    conn.execute("CREATE TABLE keys AS SELECT range AS k FROM range(10)")
    with Scratch(conn) as scratch:
        select = "SELECT k, current_setting('threads') AS threads FROM _slice"
        slices = decision._in_slices(conn, scratch, "_out", select, view="_slice", keys="keys", key="k",
                                     count="SELECT 10" if backfill else None,
                                     threads=decision.SLICE_THREADS if backfill else None)
        rows = conn.execute("SELECT k, threads FROM _out ORDER BY k").fetchall()
    assert [k for k, _ in rows] == list(range(10))
    assert slices == (3 if backfill else 1)
    assert {threads for _, threads in rows} == {decision.SLICE_THREADS if backfill else 1}
    assert conn.execute("SELECT current_setting('threads')").fetchall() == [(1,)]
