"""The near-duplicate index's LSH band buckets, kept as Parquet shards beside the warehouse, so the candidate join
(the part of deduplication that grows with the pool) runs as one job per shard on an engine's workers when one is
configured (Ray tasks); without one, the warehouse joins every shard at once.

A bucket row is (bucket, text_id); its shard is `bucket & (SHARDS - 1)` (buckets are hashes), so all texts of a
bucket are in one shard and a candidate pair is found inside one shard. A shard is a few Parquet files under
`<warehouse>.near-index/shard=N/`, named by the warehouse table `near_index_files`: a file is part of the index only
once the transaction that lists it commits, so a run that fails leaves files nobody reads, removed by a later writer
(`sweep`). The folder is private to the platform user, like the warehouse. New rows are a new file per shard;
`compact` merges files of about the same size once there are FANOUT of them, so a shard holds a few files per size
and each row is rewritten about log4(pool) times, never the pool each time. Merging runs after the submissions, not
inside their transactions (a merge of the largest files would otherwise stall one submission and hold the writer
lock meanwhile), unless a shard has piled up MAX_FILES files without one.

Beside each file, its rows sorted by bucket and a Bloom filter of its buckets (sorted_buckets): a submission's few
texts look their buckets up there rather than joining every row of the index, so their search costs what the
submission brings, not what the pool holds.

The rows are derived data (band keys of the signatures in `minhash_texts`): an index with a file missing, or a
warehouse from before the shards, is rebuilt from the signatures (`ensure`)."""

from __future__ import annotations

import math
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from onett_domain.credit import sorted_buckets
from onett_domain.sql import literal, literal_list
from onett_text import minhash

SHARDS = 16
FANOUT = 4  # files of one size merged into one
BASE_ROWS = 1 << 16  # files up to this many rows are of the smallest size
MAX_FILES = 64  # files a shard may hold before a submission merges them itself (compaction has not run)
REBUILD_BATCH = 50_000  # signatures read at once (50 MiB)
COMPUTE_BELOW = 16  # queried texts' bucket rows are computed when 16x their number is at most the index's rows
SORT_THREADS = min(4, os.cpu_count() or 1)  # files sorted at once by compaction
# Files of more rows are sorted one at a time: sorting holds about 50 bytes a row (0.5 GiB for the 11 M rows of a
# bucket file of 2 GB of near copies; two at once took a 2 GB upload's ingest past 2.5 GB of RSS).
SORT_ALONE_ROWS = 1 << 20
# From this many queried texts (a backfill), the candidate join runs shard by shard on connections of their own, the
# engine's jobs in this process: one join over every shard at once, and its DISTINCT, outgrew DuckDB's memory at 3.9 M
# texts (2 GB of near copies).
JOIN_BY_SHARD_TEXTS = 100_000
LOOKUP_ROWS = 40_000_000  # index rows from which a lookup beats the join (bench/candidate_search.py: 1.1x at 44 M)

Runner = Callable[[Callable[..., Any], Iterable[tuple]], Iterator[Any]]
"""Runs `fn(*job)` for every job, results in job order: the engine the shard jobs run on."""


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


def files_by_shard(conn: duckdb.DuckDBPyConnection) -> dict[int, list[str]]:
    """The files of the index, by shard."""
    base, grouped = folder(conn), {}
    for shard, file in conn.execute("SELECT shard, file FROM near_index_files ORDER BY shard, file").fetchall():
        grouped.setdefault(shard, []).append(str(base / file))
    return grouped


def rows(conn: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyRelation:
    """Every (bucket, text_id) row of the index."""
    found = files(conn)
    if not found:
        return conn.sql("SELECT NULL::BIGINT AS bucket, NULL::BIGINT AS text_id WHERE FALSE")
    return conn.sql(f"SELECT bucket, text_id FROM read_parquet({literal_list(found)})")


def append(conn: duckdb.DuckDBPyConnection, select: str) -> int:
    """Adds the rows of `select` (bucket, text_id): a new file in every shard they fall in. Call inside the
    warehouse transaction that adds their texts. Returns the rows added."""
    base = folder(conn)
    written = _write(conn, select, base, "add")
    piled = conn.execute("SELECT shard FROM near_index_files GROUP BY shard HAVING count(*) > ? ORDER BY shard",
                         [MAX_FILES]).fetchall()
    for (shard,) in piled:  # their sorted rows merged with them: the next lookup need not sort the merged files
        for _ in _merge_tiers(conn, base, shard, sort=True):
            pass
    return sum(n for _, _, n in written)


def compact(conn: duckdb.DuckDBPyConnection, meanwhile: Callable[[], Any] | None = None) -> dict[str, Any]:
    """Merges every shard's files of one size FANOUT at a time, until no size has FANOUT files, then writes the
    sorted rows of every file that has none yet (so that no submission's lookup sorts a large file); run in a
    transaction of its own (the merged files leave the disk with `sweep` after it commits). Returns the merges
    made, the rows they wrote and the files whose sorted rows were written. The files are sorted side by side on
    threads (numpy and Arrow let go of the GIL), a large one beside small ones only, and `meanwhile` (other work on
    this connection) runs beside them: its result is returned as "meanwhile"."""
    base = folder(conn)
    done: dict[str, Any] = {"merges": 0, "rows rewritten": 0, "files sorted": 0}
    for shard in range(SHARDS):
        for merged in _merge_tiers(conn, base, shard, sort=True):  # each merged file's sorted rows with it
            done["merges"] += 1
            done["rows rewritten"] += merged
            done["files sorted"] += 1
    paths = [Path(f) for f in files(conn)]
    unsorted = [p for p in paths if not sorted_buckets.sorted_path(p).exists()]
    to_sort = set(unsorted)
    unfiltered = [p for p in paths if p not in to_sort and not sorted_buckets.filter_path(p).exists()]
    large = threading.Lock()

    def sort(path: Path) -> None:
        if pq.ParquetFile(path).metadata.num_rows > SORT_ALONE_ROWS:
            with large:
                sorted_buckets.write(path)
        else:
            sorted_buckets.write(path)

    with ThreadPoolExecutor(SORT_THREADS, thread_name_prefix="sort-buckets") as pool:
        sorting = [pool.submit(sort, p) for p in unsorted]
        sorting += [pool.submit(sorted_buckets.write_filter, p) for p in unfiltered]  # sorted before filters were kept
        if meanwhile is not None:
            done["meanwhile"] = meanwhile()
        for future in sorting:
            future.result()
    done["files sorted"] += len(unsorted)
    return done


def pending_merges(conn: duckdb.DuckDBPyConnection) -> int:
    """Shards holding FANOUT files of one size: what `compact` would merge now."""
    return sum(1 for shard in range(SHARDS) if _full_tier(conn, shard))


def forget(conn: duckdb.DuckDBPyConnection, text_ids: str) -> None:
    """Rewrites the shards without the rows of the texts in table `text_ids` (column text_id); the old files are
    removed by `sweep` once the transaction has committed."""
    base = folder(conn)
    for shard in range(SHARDS):
        old = files(conn, shard)
        if not old:
            continue
        names = [str(Path(f).relative_to(base)) for f in old]
        _write(conn, f"SELECT bucket, text_id FROM read_parquet({literal_list(old)}) "
                     f"WHERE text_id NOT IN (SELECT text_id FROM {text_ids})", base, "kept")
        _unlist(conn, shard, names)  # after the write: its name is above theirs


def sweep(conn: duckdb.DuckDBPyConnection) -> int:
    """Removes the files the committed state no longer names (merged, forgotten, or left by a failed run); returns
    how many. A file of a generation above the committed ones may belong to a transaction still running and stays
    (a failed run's is overwritten or removed once the generations pass it)."""
    base = folder(conn)
    if not base.exists():
        return 0
    (newest,), = conn.execute("SELECT coalesce(max(generation), 0) FROM near_index_files").fetchall()
    named = {str(base / f) for (f,) in conn.execute("SELECT file FROM near_index_files").fetchall()}
    removed = 0
    for path in base.glob("shard=*/*.parquet"):
        generation = path.name.split("-", 1)[0]
        if str(path) not in named and generation.isdigit() and int(generation) <= newest:
            path.unlink(missing_ok=True)
            for derived in sorted_buckets.derived(path):
                derived.unlink(missing_ok=True)
            removed += 1
    # derived from a file that is gone (written, then the run failed)
    for suffix in (sorted_buckets.SORTED, sorted_buckets.FILTER):
        for path in base.glob(f"shard=*/*{suffix}"):
            if not path.with_name(path.name[:-len(suffix)] + ".parquet").exists():
                path.unlink(missing_ok=True)
    for path in base.glob("shard=*/*.partial"):  # one a writer was killed writing (there is one writer at a time)
        path.unlink(missing_ok=True)
    return removed


def check_sorted(conn: duckdb.DuckDBPyConnection) -> tuple[int, list[str]]:
    """The sorted rows and filters beside every listed file checked against it (sorted_buckets.check)."""
    return sorted_buckets.check(map(Path, files(conn)))


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
        for _ in _merge_tiers(conn, base, shard):
            pass
    conn.execute("DROP TABLE IF EXISTS minhash_buckets")


def pairs_sql(queries: str, indexed: list[str]) -> str:
    """Candidate pairs (a < b): every text of `indexed` (bucket files) sharing a bucket with a queried text.
    `queries` is a relation of the queried texts' bucket rows (bucket, text_id)."""
    return f"""SELECT DISTINCT least(q.text_id, b.text_id) AS a, greatest(q.text_id, b.text_id) AS b
               FROM {queries} q JOIN read_parquet({literal_list(indexed)}) b
               ON q.bucket = b.bucket AND q.text_id <> b.text_id"""


def _selected_rows(indexed: list[str], query_ids: str) -> str:
    """The bucket rows of the texts in `query_ids` (a relation with a text_id column), read from `indexed`."""
    return f"(SELECT r.bucket, r.text_id FROM read_parquet({literal_list(indexed)}) r SEMI JOIN {query_ids} i " \
           "USING (text_id))"


def shard_candidates(queries: str, computed: bool, shard_files: list[str], out: str, memory_limit: str) -> int:
    """One shard's candidate pairs, written to `out`: a job for an engine's worker, which reads and writes only
    Parquet files (spilling beside `out` past `memory_limit`). `queries`: a folder of the queried texts' bucket rows
    in this shard (`computed`), or a file of their text ids. Returns the pairs written."""
    conn = duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": out + ".tmp",
                                  "preserve_insertion_order": False})
    rows = (f"read_parquet({literal(queries + '/*.parquet')})" if computed
            else _selected_rows(shard_files, f"read_parquet({literal(queries)})"))
    try:
        (pairs,), = conn.execute(f"COPY ({pairs_sql(rows, shard_files)}) TO {literal(out)} (FORMAT parquet)"
                                 ).fetchall()
        return int(pairs)
    finally:
        conn.close()


def candidates(conn: duckdb.DuckDBPyConnection, query_ids: str, work: Path, run: Runner | None = None) -> str:
    """A SELECT of the candidate pairs (a, b) of the texts in table `query_ids` (column text_id), whose files are
    under `work`.

    When the queried texts are few next to the index (a submission into a large pool), their bucket rows are
    computed from their signatures and, once the index holds LOOKUP_ROWS rows, looked up in each file's sorted rows:
    the cost follows the submission. Else (a backfill, a small index, or a lookup that would match more than
    sorted_buckets.LOOKUP_MATCHES rows) the candidates come from a join: with an engine (`run`), one job per shard;
    without, the warehouse joins every shard at once (the shards share no bucket, so that is the same join, without
    a job's start-up per shard). A backfill's rows are selected from the
    shards (one scan of the index costs less than hashing millions of signatures)."""
    by_shard = files_by_shard(conn)
    indexed = [path for paths in by_shard.values() for path in paths]
    if not indexed:
        return "SELECT NULL::BIGINT AS a, NULL::BIGINT AS b WHERE FALSE"
    (texts,), = conn.execute(f"SELECT count(*) FROM {query_ids}").fetchall()
    (stored,), = conn.execute("SELECT coalesce(sum(rows), 0) FROM near_index_files").fetchall()
    computed = texts * minhash.BANDS * COMPUTE_BELOW <= stored
    if computed:
        _query_rows(conn, query_ids, work / "queries")
        if stored >= LOOKUP_ROWS and sorted_buckets.lookup(work / "queries", by_shard, work / "looked-up.parquet"):
            return f"SELECT DISTINCT a, b FROM read_parquet({literal(str(work / 'looked-up.parquet'))})"
    if run is None and texts < JOIN_BY_SHARD_TEXTS:
        rows = (f"read_parquet({literal(str(work / 'queries' / '*' / '*.parquet'))})" if computed
                else _selected_rows(indexed, query_ids))
        return pairs_sql(rows, indexed) if not computed or (work / "queries").exists() else \
            "SELECT NULL::BIGINT AS a, NULL::BIGINT AS b WHERE FALSE"
    if run is None:  # a backfill: its join shard by shard, as the engine's jobs run it, within half the memory
        run = _one_by_one
    if not computed:
        conn.execute(f"COPY (SELECT text_id FROM {query_ids}) TO {literal(str(work / 'ids.parquet'))} "
                     "(FORMAT parquet)").fetchall()
    (memory,), = conn.execute("SELECT current_setting('memory_limit')").fetchall()
    if run is _one_by_one:  # beside this connection's own buffers
        memory = f"{_bytes(memory) // 2}B"
    jobs = [(str(work / "queries" / f"shard={s}") if computed else str(work / "ids.parquet"), computed,
             by_shard.get(s, []), str(work / f"candidates-{s}.parquet"), memory) for s in range(SHARDS)]
    jobs = [job for job in jobs if job[2] and (not computed or Path(job[0]).exists())]
    for _ in run(shard_candidates, jobs):
        pass
    if not jobs:
        return "SELECT NULL::BIGINT AS a, NULL::BIGINT AS b WHERE FALSE"
    # a pair sharing buckets in several shards is found in each
    return f"SELECT DISTINCT a, b FROM read_parquet({literal_list([job[3] for job in jobs])})"


def _bytes(size: str) -> int:
    """DuckDB's memory size ('953.6 MiB', '1.0 GiB') in bytes."""
    number, unit = size.split()
    return int(float(number) * 1024 ** ["B", "KiB", "MiB", "GiB", "TiB"].index(unit))


def _one_by_one(fn: Callable[..., Any], jobs: Iterable[tuple]) -> Iterator[Any]:
    """The jobs run in this process, one after the other."""
    return (fn(*job) for job in jobs)


def _query_rows(conn: duckdb.DuckDBPyConnection, query_ids: str, target: Path) -> None:
    """The bucket rows of the texts in `query_ids`, from their signatures (as when they were indexed), written
    under `target` by shard, a batch of signatures at a time."""
    ids = conn.sql(f"SELECT DISTINCT text_id FROM {query_ids} ORDER BY text_id").to_arrow_table().column(0)
    for n, start in enumerate(range(0, len(ids), REBUILD_BATCH)):
        conn.register("_query_chunk", pa.table({"text_id": ids.slice(start, REBUILD_BATCH)}))
        try:  # read whole before the next statement: the connection holds one open result at a time
            batch = conn.sql("SELECT t.text_id, t.signature FROM minhash_texts t SEMI JOIN _query_chunk q "
                             "USING (text_id)").to_arrow_table()
        finally:
            conn.unregister("_query_chunk")
        if batch.num_rows == 0:
            continue
        sigs = np.asarray(batch.column("signature").combine_chunks().flatten()).reshape(-1, minhash.NUM_PERM)
        conn.register("_query_batch", pa.table({
            "bucket": minhash.band_keys(sigs).reshape(-1),
            "text_id": np.repeat(np.asarray(batch.column("text_id")), minhash.BANDS)}))
        try:
            conn.execute(f"""COPY (SELECT bucket, text_id, (bucket & {SHARDS - 1})::INTEGER AS shard FROM _query_batch)
                             TO {literal(str(target))} (FORMAT parquet, PARTITION_BY (shard), OVERWRITE_OR_IGNORE,
                                                         FILENAME_PATTERN 'batch{n:05d}-{{i}}')""").fetchall()
        finally:
            conn.unregister("_query_batch")


def _write(conn: duckdb.DuckDBPyConnection, select: str, base: Path, kind: str) -> list[tuple[int, str, int]]:
    """Writes the rows of `select` as one new file per shard they fall in and lists them in `near_index_files`;
    returns (shard, file, rows) of each."""
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    (generation,), = conn.execute("SELECT coalesce(max(generation), 0) + 1 FROM near_index_files").fetchall()
    # Names follow from the committed state, never from a clock: a name above every named one is free (a file
    # left under it by a failed run is overwritten), and the same history names its files the same way.
    (_, paths), = conn.execute(
        f"""COPY (SELECT bucket, text_id, (bucket & {SHARDS - 1})::INTEGER AS shard FROM ({select}))
            TO {literal(str(base))} (FORMAT parquet, PARTITION_BY (shard), OVERWRITE_OR_IGNORE,
                                      FILENAME_PATTERN '{generation:010d}-{kind}-{{i}}', RETURN_FILES true)"""
    ).fetchall()
    if not paths:
        return []
    counts = conn.execute(f"SELECT file_name, num_rows FROM parquet_file_metadata({literal_list(paths)})").fetchall()
    written = []
    for path, n in sorted(counts):
        for derived in sorted_buckets.derived(Path(path)):  # left under this name by a failed run: not these rows
            derived.unlink(missing_ok=True)
        relative = Path(path).resolve().relative_to(base.resolve())
        shard = int(relative.parts[0].split("=", 1)[1])
        conn.execute("INSERT INTO near_index_files VALUES (?, ?, ?, ?)",
                     [shard, str(relative), n, generation]).fetchall()
        written.append((shard, str(relative), int(n)))
    return written


def _tier(n: int) -> int:
    return 0 if n <= BASE_ROWS else int(math.log(n / BASE_ROWS, FANOUT)) + 1


def _full_tier(conn: duckdb.DuckDBPyConnection, shard: int) -> list[str]:
    """FANOUT files of the smallest size the shard holds FANOUT of (none if no size has that many)."""
    tiers: dict[int, list[str]] = {}
    for file, n in conn.execute("SELECT file, rows FROM near_index_files WHERE shard = ? ORDER BY rows, file",
                                [shard]).fetchall():
        tiers.setdefault(_tier(n), []).append(file)
    full = [names for _, names in sorted(tiers.items()) if len(names) >= FANOUT]
    return full[0][:FANOUT] if full else []


def _merge_tiers(conn: duckdb.DuckDBPyConnection, base: Path, shard: int, sort: bool = False) -> Iterator[int]:
    """Merges the shard's files FANOUT at a time while FANOUT of them are of one size (smallest sizes first),
    yielding the rows of each merged file. With `sort`, the merged file's sorted rows are merged from its inputs'
    (a chunk of each at a time: memory stays bounded however large the file), not sorted whole."""
    while merged := _full_tier(conn, shard):
        inputs = [base / f for f in merged]
        written = _write(conn, f"SELECT bucket, text_id FROM read_parquet({literal_list([str(p) for p in inputs])})",
                         base, "merged")
        _unlist(conn, shard, merged)  # after the write: its name is above theirs
        if sort and len(written) == 1:
            for parquet in inputs:  # the newest, smallest files have none yet
                if not sorted_buckets.sorted_path(parquet).exists():
                    sorted_buckets.write(parquet)
            sorted_buckets.merge([sorted_buckets.sorted_path(p) for p in inputs], base / written[0][1], written[0][2])
        yield sum(n for _, _, n in written)


def _unlist(conn: duckdb.DuckDBPyConnection, shard: int, names: list[str]) -> None:
    conn.execute(f"DELETE FROM near_index_files WHERE shard = ? AND file IN ({', '.join('?' * len(names))})",
                 [shard, *names]).fetchall()
