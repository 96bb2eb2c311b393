"""The DuckDB warehouse: the tables dashboards, auditors and the CLI read."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb
from dagster._utils.backoff import backoff
from dagster_duckdb import DuckDBResource

SCHEMA = (Path(__file__).parent / "schema.sql").read_text()


class Warehouse(DuckDBResource):
    """DuckDB file with onett's schema. One writing process at a time: writers wait (with backoff) for the lock."""

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with self.get_connection() as conn:
            conn.execute(SCHEMA)
            yield conn

    def migrate(self) -> bool:
        """Bring an existing (or missing) warehouse to the current schema, unless a run holds the write lock (its
        writer migrates it). Readers never write, so a warehouse from an older version would lack new columns
        until the next run: the CLI and the portal call this when they start."""
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = duckdb.connect(self.database, config=dict(self.connection_config))  # no waiting: a writer migrates
        except duckdb.IOException:
            return False
        try:
            conn.execute(SCHEMA)
        finally:
            conn.close()
        return True

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection for reports; a missing warehouse reads as empty tables."""
        if not Path(self.database).exists():
            with self.connection():
                pass
        # A run holding the write lock makes a reader wait (with backoff) rather than fail.
        conn = backoff(
            fn=duckdb.connect,
            retry_on=(duckdb.IOException,),
            kwargs={"database": self.database, "read_only": True},
            max_retries=10,
        )
        try:
            yield conn
        finally:
            conn.close()


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All-or-nothing: a run killed halfway leaves the previous rows in place, never half of the new ones."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def insert_frame(conn: duckdb.DuckDBPyConnection, table: str, frame) -> None:
    """Insert a polars frame by column name (through Arrow: no per-row Python)."""
    if frame.height == 0:
        return
    name = f"_insert_{table}"
    conn.register(name, frame.to_arrow())
    try:
        conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {name}")
    finally:
        conn.unregister(name)


def insert_rows(conn: duckdb.DuckDBPyConnection, sql: str, rows: list) -> None:
    """executemany that accepts no rows (DuckDB refuses an empty parameter list)."""
    if rows:
        conn.executemany(sql, rows)
