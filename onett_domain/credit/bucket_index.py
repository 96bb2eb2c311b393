"""The near-duplicate index's LSH band buckets, kept as Parquet shards beside the warehouse and searched shard by
shard, so the candidate join (the part of deduplication that grows with the pool) runs as independent jobs on any
engine: in this process by default, as Ray tasks when a cluster is configured.

A bucket row is (bucket, text_id); its shard is `bucket & (SHARDS - 1)` (buckets are hashes), so all texts of a
bucket are in one shard and a candidate pair is found inside one shard. A shard is a few Parquet files under
`<warehouse>.near-index/shard=N/`, named by the warehouse table `near_index_files`: a file is part of the index only
once the transaction that lists it commits, so a run that fails leaves files nobody reads, removed by the next one
(`sweep`). New rows are a new file per shard; files of about the same size are merged once there are FANOUT of them,
so a shard holds a few files per size and each row is rewritten about log4(pool) times, never the pool each time.

The rows are derived data (band keys of the signatures in `minhash_texts`): an index with a file missing, or a
warehouse from before the shards, is rebuilt from the signatures (`ensure`)."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from onett_text import minhash

SHARDS = 16
FANOUT = 4  # files of one size merged into one
BASE_ROWS = 1 << 16  # files up to this many rows are of the smallest size
REBUILD_BATCH = 50_000  # signatures read at once when rebuilding (50 MiB)

Runner = Callable[[Callable[..., Any], Iterable[tuple]], Iterator[Any]]
"""Runs `fn(*job)` for every job, results in job order: the engine the shard jobs run on."""


def in_process(fn: Callable[..., Any], jobs: Iterable[tuple]) -> Iterator[Any]:
    for job in jobs:
        yield fn(*job)


def folder(conn: duckdb.DuckDBPyConnection) -> Path:
    """`<warehouse file>.near-index` (a private temporary folder for an in-memory warehouse)."""
    (path,), = conn.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    if path:
        return folder_of(Path(path))
    conn.execute("CREATE TABLE IF NOT EXISTS near_index_location (folder VARCHAR)")
    found = conn.execute("SELECT folder FROM near_index_location").fetchall()
    if not found:
        found = [(tempfile.mkdtemp(prefix="onett-near-index-"),)]
        conn.execute("INSERT INTO near_index_location VALUES (?)", found[0]).fetchall()
    return Path(found[0][0])


def folder_of(database: Path) -> Path:
    return database.with_suffix(".near-index")


def files(conn: duckdb.DuckDBPyConnection, shard: int | None = None) -> list[str]:
    """The files of the index (of one shard), as absolute paths."""
    base = folder(conn)
    where, params = ("WHERE shard = ?", [shard]) if shard is not None else ("", [])
    return [str(base / f) for (f,) in conn.execute(
        f"SELECT file FROM near_index_files {where} ORDER BY shard, file", params).fetchall()]


def rows(conn: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyRelation:
    """Every (bucket, text_id) row of the index."""
    found = files(conn)
    if not found:
        return conn.sql("SELECT NULL::BIGINT AS bucket, NULL::BIGINT AS text_id WHERE FALSE")
    return conn.sql(f"SELECT bucket, text_id FROM read_parquet({_sql_list(found)})")


def append(conn: duckdb.DuckDBPyConnection, select: str) -> int:
    """Adds the rows of `select` (bucket, text_id): a new file in every shard they fall in, then merges by size.
    Call inside the warehouse transaction that adds their texts, after `ensure` (before adding the texts). Returns
    the rows added."""
    sweep(conn)
    base = folder(conn)
    written = _write(conn, select, base, "add")
    for shard in sorted({s for s, _, _ in written}):
        _merge_tiers(conn, base, shard)
    return sum(n for _, _, n in written)


def forget(conn: duckdb.DuckDBPyConnection, text_ids: str) -> None:
    """Rewrites the shards without the rows of the texts in table `text_ids` (column text_id); the old files are
    removed by `sweep` once the transaction has committed."""
    ensure(conn)
    base = folder(conn)
    for shard in range(SHARDS):
        old = files(conn, shard)
        if not old:
            continue
        names = [str(Path(f).relative_to(base)) for f in old]
        _write(conn, f"SELECT bucket, text_id FROM read_parquet({_sql_list(old)}) "
                     f"WHERE text_id NOT IN (SELECT text_id FROM {text_ids})", base, "kept")
        _unlist(conn, shard, names)  # after the write: its name is above theirs


def sweep(conn: duckdb.DuckDBPyConnection) -> int:
    """Removes the files no committed state names (left by failed runs, merges and `forget`); returns how many.
    Only the warehouse's writer may call it, outside a transaction that changed the index."""
    base = folder(conn)
    if not base.exists():
        return 0
    named = {str(base / f) for (f,) in conn.execute("SELECT file FROM near_index_files").fetchall()}
    removed = 0
    for path in base.glob("shard=*/*.parquet"):
        if str(path) not in named:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def ensure(conn: duckdb.DuckDBPyConnection) -> None:
    """Rebuilds the shards from the signatures when the index is not whole: a file missing (a restored backup, a
    copied warehouse) or no files for indexed texts (a warehouse from before the shards, or one moved without its
    folder). Drops the earlier in-warehouse table of buckets once rebuilt."""
    legacy = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'minhash_buckets'").fetchall()[0][0] > 0
    listed = files(conn)
    whole = all(Path(f).exists() for f in listed)
    if whole and (listed or not conn.execute("SELECT 1 FROM minhash_texts LIMIT 1").fetchall()) and not legacy:
        return
    conn.execute("DELETE FROM near_index_files").fetchall()
    base = folder(conn)
    (first, last), = conn.execute("SELECT coalesce(min(text_id), 1), coalesce(max(text_id), 0) "
                                  "FROM minhash_texts").fetchall()
    for start in range(first, last + 1, REBUILD_BATCH):
        batch = conn.sql("SELECT text_id, signature FROM minhash_texts WHERE text_id BETWEEN ? AND ?",
                         params=[start, start + REBUILD_BATCH - 1]).to_arrow_table()
        if batch.num_rows == 0:
            continue
        sigs = np.asarray(batch.column("signature").combine_chunks().flatten()).reshape(-1, minhash.NUM_PERM)
        keys = minhash.band_keys(sigs)
        ids = np.repeat(np.asarray(batch.column("text_id")), minhash.BANDS)
        conn.register("_rebuilt", pa.table({"bucket": keys.reshape(-1), "text_id": ids}))
        try:
            _write(conn, "SELECT bucket, text_id FROM _rebuilt", base, "rebuilt")
        finally:
            conn.unregister("_rebuilt")
    for shard in range(SHARDS):
        _merge_tiers(conn, base, shard)
    conn.execute("DROP TABLE IF EXISTS minhash_buckets")


def query_rows(conn: duckdb.DuckDBPyConnection, query_ids: str, target: Path) -> list[int]:
    """Writes the bucket rows of the texts in table `query_ids` (column text_id) under `target`, by shard (computed
    from their signatures, as they were when indexed); returns the shards that have some."""
    reader = conn.sql(f"SELECT text_id, signature FROM minhash_texts SEMI JOIN {query_ids} USING (text_id)"
                      ).to_arrow_reader(REBUILD_BATCH)
    shards: set[int] = set()
    for n, batch in enumerate(reader):
        if batch.num_rows == 0:
            continue
        sigs = np.asarray(batch.column("signature").flatten()).reshape(-1, minhash.NUM_PERM)
        keys = minhash.band_keys(sigs).reshape(-1)
        ids = np.repeat(np.asarray(batch.column("text_id")), minhash.BANDS)
        shard = keys & (SHARDS - 1)
        for s in np.unique(shard).tolist():
            mask = shard == s
            table = pa.table({"bucket": keys[mask], "text_id": ids[mask]})
            (target / f"shard={s}").mkdir(parents=True, exist_ok=True)
            pq.write_table(table, target / f"shard={s}" / f"{n:06d}.parquet")
            shards.add(int(s))
    return sorted(shards)


def shard_candidates(queries: str, shard_files: list[str], out: str, memory_limit: str) -> int:
    """One shard's candidate pairs (a < b): every indexed text sharing a bucket with a queried one. A job for any
    engine: it reads only Parquet files and writes `out` (spilling beside it past `memory_limit`); returns the
    pairs written."""
    conn = duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": out + ".tmp",
                                  "preserve_insertion_order": False})
    try:
        (pairs,), = conn.execute(
            f"""COPY (SELECT DISTINCT least(q.text_id, b.text_id) AS a, greatest(q.text_id, b.text_id) AS b
                      FROM read_parquet({_sql_list([queries + '/*.parquet'])}) q
                      JOIN read_parquet({_sql_list(shard_files)}) b ON q.bucket = b.bucket AND q.text_id <> b.text_id)
                TO {_literal(out)} (FORMAT parquet)""").fetchall()
        return int(pairs)
    finally:
        conn.close()


def candidates(conn: duckdb.DuckDBPyConnection, query_ids: str, work: Path, run: Runner | None = None) -> list[str]:
    """Candidate pairs of the texts in table `query_ids`, shard by shard on `run` (in this process by default);
    returns the Parquet files holding them (a pair may be in several: shards share no bucket, not pairs)."""
    ensure(conn)
    shards = query_rows(conn, query_ids, work / "queries")
    (memory,), = conn.execute("SELECT current_setting('memory_limit')").fetchall()
    jobs = [(str(work / "queries" / f"shard={s}"), files(conn, s), str(work / f"candidates-{s}.parquet"), memory)
            for s in shards]
    jobs = [job for job in jobs if job[1]]
    for _ in (run or in_process)(shard_candidates, jobs):
        pass
    return [job[2] for job in jobs]


def _write(conn: duckdb.DuckDBPyConnection, select: str, base: Path, kind: str) -> list[tuple[int, str, int]]:
    """Writes the rows of `select` as one new file per shard they fall in and lists them in `near_index_files`;
    returns (shard, file, rows) of each."""
    base.mkdir(parents=True, exist_ok=True)
    (generation,), = conn.execute("SELECT coalesce(max(generation), 0) + 1 FROM near_index_files").fetchall()
    # Names follow from the committed state, never from a clock: a name above every named one is free (a file
    # left under it by a failed run is overwritten), and the same history names its files the same way.
    (_, paths), = conn.execute(
        f"""COPY (SELECT bucket, text_id, (bucket & {SHARDS - 1})::INTEGER AS shard FROM ({select}))
            TO {_literal(str(base))} (FORMAT parquet, PARTITION_BY (shard), OVERWRITE_OR_IGNORE,
                                      FILENAME_PATTERN '{generation:010d}-{kind}-{{i}}', RETURN_FILES true)"""
    ).fetchall()
    if not paths:
        return []
    counts = conn.execute(f"SELECT filename, count(*) FROM read_parquet({_sql_list(paths)}, filename = true) "
                          "GROUP BY ALL").fetchall()
    written = []
    for path, n in sorted(counts):
        relative = Path(path).resolve().relative_to(base.resolve())
        shard = int(relative.parts[0].split("=", 1)[1])
        conn.execute("INSERT INTO near_index_files VALUES (?, ?, ?, ?)",
                     [shard, str(relative), n, generation]).fetchall()
        written.append((shard, str(relative), int(n)))
    return written


def _tier(n: int) -> int:
    return 0 if n <= BASE_ROWS else int(math.log(n / BASE_ROWS, FANOUT)) + 1


def _merge_tiers(conn: duckdb.DuckDBPyConnection, base: Path, shard: int) -> None:
    """Merges the shard's files FANOUT at a time while FANOUT of them are of one size (smallest sizes first)."""
    while True:
        listed = conn.execute("SELECT file, rows FROM near_index_files WHERE shard = ? ORDER BY rows, file",
                              [shard]).fetchall()
        tiers: dict[int, list[str]] = {}
        for file, n in listed:
            tiers.setdefault(_tier(n), []).append(file)
        full = [names for _, names in sorted(tiers.items()) if len(names) >= FANOUT]
        if not full:
            return
        merged = full[0][:FANOUT]
        _write(conn, f"SELECT bucket, text_id FROM read_parquet({_sql_list([str(base / f) for f in merged])})",
               base, "merged")
        _unlist(conn, shard, merged)  # after the write: its name is above theirs


def _unlist(conn: duckdb.DuckDBPyConnection, shard: int, names: list[str]) -> None:
    conn.execute(f"DELETE FROM near_index_files WHERE shard = ? AND file IN ({', '.join('?' * len(names))})",
                 [shard, *names]).fetchall()


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join(_literal(v) for v in values) + "]"
