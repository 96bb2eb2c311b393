"""The DuckDB warehouse: the tables dashboards, auditors, the CLI and the portal read."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb
from dagster._utils.backoff import backoff
from dagster_duckdb import DuckDBResource

from onett_domain.credit import bucket_index, key_shards, signature_files
from onett_domain.credit.near_index import signatures_from_blobs
from onett_resources.durable import make_private

SCHEMA = (Path(__file__).parent / "schema.sql").read_text()
MIGRATIONS = (Path(__file__).parent / "migrations.sql").read_text()
# Checkpoints never merge row groups ("vacuum"). Every submission appends a few thousand rows to the near-duplicate
# index, and DuckDB otherwise rewrites the whole signature table every few checkpoints: a cost that grows with the
# pool where it should grow with the submission. Deleted rows are still skipped; the space they held is reclaimed
# by copying the database (docs/scaling-out.md).
STORAGE_SETTINGS = "SET max_vacuum_tasks = 0"


class Warehouse(DuckDBResource):
    """DuckDB file with onett's schema. One writing process at a time: writers wait (with backoff) for the lock."""

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with self.get_connection() as conn:
            make_private(Path(self.database))  # new or from before files were kept private: the platform user's only
            try:  # closed on failure too: a connection left open would bar any other in this process
                prepare(conn)
                yield conn
            finally:
                conn.close()

    def migrate(self) -> bool:
        """Bring an existing (or missing) warehouse to the current schema, unless a run holds the write lock (its
        writer migrates it). Readers never write, so a warehouse from an older version would lack new columns until
        the next run: the CLI and the portal call this when they start."""
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = duckdb.connect(self.database, config=dict(self.connection_config))  # no waiting: a writer migrates
        except duckdb.IOException:
            return False
        try:
            prepare(conn)
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


def prepare(conn: duckdb.DuckDBPyConnection) -> None:
    """Storage settings, then any warehouse from an earlier version upgraded, then the schema."""
    conn.execute(STORAGE_SETTINGS)
    _rename_tables(conn)
    conn.execute(MIGRATIONS)
    add_hash_keys(conn)
    conn.execute(SCHEMA)
    upgrade_index(conn)
    with transaction(conn):
        bucket_index.ensure(conn)  # bucket shards of a warehouse from before them, or restored without them
    bucket_index.sweep(conn)
    signature_files.sweep(conn)
    key_shards.sweep(conn)


def _tables(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(conn.execute("SELECT table_name, table_type FROM information_schema.tables "
                             "WHERE table_schema = 'main'").fetchall())


def _rename_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """`submissions` (one row per file) became `uploads`; a view keeps the old name readable."""
    tables = _tables(conn)
    if tables.get("submissions") == "BASE TABLE" and "uploads" not in tables:
        conn.execute("ALTER TABLE submissions RENAME TO uploads")


HASH_KEYS = {"documents": {"hash_key": "content_hash"}, "minhash_texts": {"hash_key": "content_hash"},
             "passage_texts": {"hash_key": "content_hash"},
             "near_pairs": {"hash_key": "content_hash", "other_key": "other_hash"}}
"""The 16-byte keys (UUID) kept beside content hashes, each with the hash it encodes: credit joins the pool on them."""


def add_hash_keys(conn: duckdb.DuckDBPyConnection) -> None:
    """Gives the tables of a warehouse from before the keys their key columns, filled from the hashes, then NOT NULL
    (in a transaction of its own: DuckDB cannot constrain a column with the fill outstanding; a fill interrupted
    before it is found nullable and finished by the next open). Nothing to do on a current warehouse."""
    nullable = {(table, column): flag for table, column, flag in conn.execute(
        "SELECT table_name, column_name, is_nullable = 'YES' FROM information_schema.columns "
        "WHERE table_schema = 'main'").fetchall()}
    tables = {table for table, _ in nullable}
    for table, keys in HASH_KEYS.items():
        for key, source in keys.items():
            if table not in tables or nullable.get((table, key)) is False:
                continue
            with transaction(conn):
                conn.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {key} UUID")
                conn.execute(f"UPDATE {table} SET {key} = {source}::UUID WHERE {key} IS NULL")
            conn.execute(f"ALTER TABLE {table} ALTER COLUMN {key} SET NOT NULL")


def hash_key_mismatches(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, int]]:
    """(table, key, hash, rows) wherever a key is not the hash it encodes (`onett verify`)."""
    found = []
    for table, keys in HASH_KEYS.items():
        for key, source in keys.items():
            (rows,), = conn.execute(
                f"SELECT count(*) FROM {table} WHERE {key} IS DISTINCT FROM TRY_CAST({source} AS UUID)").fetchall()
            if rows:
                found.append((table, key, source, rows))
    return found


def upgrade_index(conn: duckdb.DuckDBPyConnection, batch: int = 100_000) -> None:
    """Converts a near-duplicate index from before minhash_texts / minhash_buckets (signatures as 1 KiB blobs keyed
    by content hash, band rows naming the hash) in one transaction; nothing to do on a current warehouse."""
    old = {name for (name,) in conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE table_name IN ('minhash_signatures', 'minhash_bands')"
    ).fetchall()}
    if not old:
        return
    with transaction(conn):
        if "minhash_signatures" in old:
            conn.execute(
                """CREATE OR REPLACE TEMP TABLE _upgrade AS
                   SELECT (SELECT coalesce(max(text_id), 0) FROM minhash_texts)
                          + row_number() OVER (ORDER BY content_hash) AS text_id, content_hash
                   FROM minhash_signatures ANTI JOIN minhash_texts USING (content_hash)"""
            )
            (first, last), = conn.execute(
                "SELECT coalesce(min(text_id), 1), coalesce(max(text_id), 0) FROM _upgrade").fetchall()
            for start in range(first, last + 1, batch):  # a batch of blobs at a time: memory stays bounded
                rows = conn.sql(
                    """SELECT u.text_id, u.content_hash, s.signature FROM _upgrade u JOIN minhash_signatures s
                       USING (content_hash) WHERE u.text_id BETWEEN ? AND ?""", params=[start, start + batch - 1]
                ).to_arrow_table()
                converted = rows.set_column(2, "signature", signatures_from_blobs(rows.column("signature")))
                conn.register("_upgrade_batch", converted)
                conn.execute("INSERT INTO minhash_texts SELECT text_id, content_hash, signature, content_hash::UUID "
                             "FROM _upgrade_batch")
                conn.unregister("_upgrade_batch")
            conn.execute("DROP TABLE _upgrade")
        # the band rows are not copied: the bucket shards are rebuilt from the signatures (bucket_index.ensure)
        conn.execute("DROP TABLE IF EXISTS minhash_bands; DROP TABLE IF EXISTS minhash_signatures")


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
