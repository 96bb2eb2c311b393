"""Erasure: a contributor's (or the operator's) request that an upload's text be destroyed everywhere.

The upload is first withdrawn like any file that leaves the landing zone (its submission is processed without it,
so its documents stop earning and hand their credit on exactly as a withdrawal does); then its row becomes
`erased`, its documents get `erased_at` (they keep ids, hashes and token counts: payouts already made stay
explainable) and the near-duplicate index forgets signatures no one else holds. Bytes are destroyed by the
resources that hold them (landing zone, encrypted archive, Parquet parts, releases)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from onett_domain import sql
from onett_domain.credit import bucket_index, signature_files

SQL = Path(__file__).with_name("sql")


def upload_versions(conn: duckdb.DuckDBPyConnection, contributor_id: str, file: str) -> list[tuple[str, str, bool]]:
    """(sha256, status, still read) of every recorded version of a contributor's file, newest first."""
    return [(sha, status, bool(live)) for sha, status, live in conn.execute(
        "SELECT sha256, status, withdrawn_at IS NULL AND status IN ('accepted', 'partially accepted') FROM uploads "
        "WHERE contributor_id = ? AND file = ? AND coalesce(sha256, '') <> '' ORDER BY submitted_at DESC",
        [contributor_id, file]).fetchall()]


def ready(conn: duckdb.DuckDBPyConnection, contributor_id: str, file: str, sha256: str) -> bool:
    """Whether the upload's submission was processed since the file left the landing zone (or it was never read)."""
    (live,), = conn.execute(
        "SELECT count(*) FROM uploads WHERE contributor_id = ? AND file = ? AND sha256 = ? AND withdrawn_at IS NULL "
        "AND status IN ('accepted', 'partially accepted')", [contributor_id, file, sha256]).fetchall()
    return live == 0


def erase_upload(conn: duckdb.DuckDBPyConnection, contributor_id: str, file: str, sha256: str, at: datetime,
                 note: str) -> tuple[list[str], list[str]]:
    """Marks the upload erased; returns the public ids and the content hashes of its documents."""
    rows = sql.execute(conn, sql.load(SQL, "erase_upload"), {
        "contributor": contributor_id, "file": file, "sha256": sha256, "at": at, "note": note})
    return [i for i, _ in rows], sorted({h for _, h in rows})


def forget_signatures(conn: duckdb.DuckDBPyConnection, hashes: list[str]) -> int:
    """Removes from the near-duplicate index the erased texts no remaining document holds; returns how many. Their
    bucket and signature files leave the disk with the sweeps, once the transaction has committed."""
    if not hashes:
        return 0
    conn.register("_erased_hashes", pl.DataFrame({"content_hash": hashes}).to_arrow())
    try:
        sql.execute(conn, sql.load(SQL, "forget_erased_signatures"))
        (forgotten,), = conn.execute("SELECT count(*) FROM _forget").fetchall()
        if forgotten:
            bucket_index.forget(conn, "_forget")
            signature_files.forget(conn, "_forget")
            conn.execute("DELETE FROM minhash_texts WHERE text_id IN (SELECT text_id FROM _forget)").fetchall()
    finally:
        conn.unregister("_erased_hashes")
        conn.execute("DROP TABLE IF EXISTS _forget")
    return int(forgotten)
