"""DuckDB settings for a block: set inside it, the connection's own after it, whatever ends it."""

from __future__ import annotations

import duckdb
import pytest

from onett_domain.sql import settings

SHOWN = "SELECT current_setting('threads'), current_setting('preserve_insertion_order')"


def _connection() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(config={"threads": 2, "preserve_insertion_order": True})
    conn.execute("CREATE TABLE t (a INTEGER)")
    return conn


def test_settings_hold_inside_the_block_and_the_connections_come_back_after_it():
    conn = _connection()
    with settings(conn, threads=1, preserve_insertion_order=False):
        assert conn.execute(SHOWN).fetchall() == [(1, False)]
    assert conn.execute(SHOWN).fetchall() == [(2, True)]
    with settings(conn):  # nothing asked: nothing changed
        assert conn.execute(SHOWN).fetchall() == [(2, True)]


def test_an_error_in_the_block_restores_the_settings_and_is_the_error_raised():
    conn = _connection()
    with pytest.raises(OSError, match="disk full"):
        with settings(conn, threads=1):
            raise OSError("disk full")
    assert conn.execute(SHOWN).fetchall() == [(2, True)]
    # A failed statement aborts the transaction: DuckDB refuses the restoring SET until it is rolled back, and the
    # statement's own error is the one raised (not the refusal).
    conn.execute("BEGIN")
    with pytest.raises(duckdb.ConversionException):
        with settings(conn, threads=1):
            conn.execute("INSERT INTO t VALUES ('not a number')")
    conn.execute("ROLLBACK")
