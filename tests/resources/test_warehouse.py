"""The warehouse upgrades what earlier versions wrote, in place, without losing a row."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timezone

import duckdb

from onett_resources.warehouse import HASH_KEYS, Warehouse, hash_key_mismatches

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


def test_hash_keys_are_added_filled_and_checked_on_a_warehouse_from_before_them(tmp_path):
    """Documents, MinHash texts, passage texts and near pairs from before the 16-byte keys get them from their content
    hashes, once, NOT NULL; a fill interrupted before its constraint is finished by the next open; `onett verify`'s
    check finds a key that is not its hash."""
    path = tmp_path / "onett.duckdb"
    hashes = [hashlib.blake2b(text.encode(), digest_size=16).hexdigest() for text in ("봄날", "spring", "가을")]
    warehouse = Warehouse(database=str(path))
    with warehouse.connection() as conn:
        for position, content_hash in enumerate(hashes):
            conn.execute(
                "INSERT INTO documents (contributor_id, period, file, position, submitted_at, content_hash, raw_tokens,"
                " tokens, status, reason, duplicate_of, hash_key) VALUES ('amy', '2026-10-01', 'a.jsonl', ?, ?, ?, 3,"
                " 3, 'accepted', '', '', ?::UUID)", [position, datetime(2026, 10, 2, tzinfo=timezone.utc),
                                                     content_hash, content_hash])
        conn.execute("INSERT INTO near_pairs VALUES (?, ?, 0.8, ?::UUID, ?::UUID)", [*hashes[:2], *hashes[:2]])
        conn.execute("INSERT INTO passage_texts VALUES (1, ?, 4, ?::UUID)", [hashes[2], hashes[2]])
        conn.execute("INSERT INTO minhash_texts VALUES (1, ?, ?, ?::UUID)", [hashes[1], [7] * 256, hashes[1]])
        for table, keys in HASH_KEYS.items():  # as a version from before the keys wrote them
            for key in keys:
                conn.execute(f"ALTER TABLE {table} DROP COLUMN {key}")
        conn.execute("ALTER TABLE documents ADD COLUMN hash_key UUID")  # a fill that stopped before its constraint
        conn.execute("UPDATE documents SET hash_key = content_hash::UUID WHERE position = 0")

    assert warehouse.migrate()
    conn = duckdb.connect(str(path))
    for table, keys in HASH_KEYS.items():
        for key, source in keys.items():
            assert conn.execute(f"SELECT count(*) FROM {table} WHERE {key} IS DISTINCT FROM {source}::UUID"
                                ).fetchone() == (0,)
            (nullable,), = conn.execute("SELECT is_nullable FROM information_schema.columns WHERE table_name = ? "
                                        "AND column_name = ?", [table, key]).fetchall()
            assert nullable == "NO"
    assert conn.execute("SELECT count(*) FROM documents").fetchone() == (3,)
    assert hash_key_mismatches(conn) == []
    conn.execute("UPDATE near_pairs SET other_key = hash_key")
    assert hash_key_mismatches(conn) == [("near_pairs", "other_key", "other_hash", 1)]
    conn.close()
