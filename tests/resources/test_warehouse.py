"""The warehouse upgrades what earlier versions wrote, in place, without losing a row."""

from __future__ import annotations

from datetime import date, datetime, timezone

import duckdb

from onett_resources.warehouse import Warehouse

# `submissions` as the first released version created it (before notes and withdrawn_at were added).
OLD_SUBMISSIONS = """
CREATE TABLE submissions (contributor_id VARCHAR NOT NULL, period DATE NOT NULL, file VARCHAR NOT NULL, sha256 VARCHAR,
    bytes BIGINT NOT NULL, submitted_at TIMESTAMPTZ NOT NULL, status VARCHAR NOT NULL, error VARCHAR NOT NULL,
    docs_read BIGINT NOT NULL, docs_skipped BIGINT NOT NULL, mtime_ns BIGINT NOT NULL)
"""


def test_submissions_table_becomes_uploads_and_the_old_name_still_reads(tmp_path):
    path = tmp_path / "onett.duckdb"
    old = duckdb.connect(str(path))
    old.execute(OLD_SUBMISSIONS)
    old.execute("INSERT INTO submissions VALUES ('alice', '2026-10-01', 'a.jsonl', 'ab', 10, '2026-10-02 01:00:00+00',"
                " 'accepted', '', 3, 0, 1)")
    old.close()

    assert Warehouse(database=str(path)).migrate()
    conn = duckdb.connect(str(path), read_only=True)
    kinds = dict(conn.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall())
    assert kinds["uploads"] == "BASE TABLE" and kinds["submissions"] == "VIEW"
    row = conn.execute("SELECT contributor_id, period, file, status, notes, withdrawn_at FROM uploads").fetchall()
    assert row == [("alice", date(2026, 10, 1), "a.jsonl", "accepted", "", None)]
    assert conn.execute("SELECT file FROM submissions").fetchall() == [("a.jsonl",)]
    columns = [c for (c,) in conn.execute("SELECT column_name FROM information_schema.columns "
                                          "WHERE table_name = 'uploads' ORDER BY ordinal_position").fetchall()]
    assert columns[-5:] == ["notes", "withdrawn_at", "terms", "terms_stamp", "consent"]  # added at the end, as always
    conn.close()


def test_a_new_warehouse_and_a_second_open_change_nothing(tmp_path):
    path = tmp_path / "onett.duckdb"
    warehouse = Warehouse(database=str(path))
    with warehouse.connection() as conn:
        conn.execute("INSERT INTO uploads (contributor_id, period, file, bytes, submitted_at, status, error, docs_read,"
                     " docs_skipped, mtime_ns) VALUES ('bob', '2026-10-01', 'b.txt', 1, ?, 'rejected', 'empty', 0, 0, 1)",
                     [datetime(2026, 10, 2, tzinfo=timezone.utc)])
        first = conn.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                             "ORDER BY ALL").fetchall()
    with warehouse.connection() as conn:
        assert conn.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                            "ORDER BY ALL").fetchall() == first
        assert conn.execute("SELECT count(*) FROM submissions").fetchone() == (1,)
