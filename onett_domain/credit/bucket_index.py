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

Beside each file, its rows sorted by bucket (SORTED): a submission's few texts look their buckets up there by binary
search, so their search reads a few pages per bucket rather than every row of the index. A join over all rows costs
what the pool holds, every submission; the lookup costs what the submission brings (docs/throughput.md). The sorted
rows are memory-mapped, and a lookup lets go of the pages it read every LOOKUP_CHUNK buckets: they stay in the page
cache, but not in the process, whose RSS would otherwise grow with every page of the index it touched. Beside each
sorted array, a Bloom filter of its buckets (FILTER, key_filter), an eighth of its size: most of a submission's
buckets match nothing, and only those the filter may hold are searched (fewer searches in an index held in memory;
an index on disk is read about as much either way, docs/throughput.md).
Both are derived from the Parquet files: a merge writes the merged file's by merging its inputs' (a chunk at a time:
memory stays bounded however large the file), `compact` any other's by sorting it (in runs of SORT_RUN rows, merged
the same way), a lookup any still missing, one file at a time (a file added since, or a restore, which brings only
the Parquet files), and they leave the disk with their files.

The rows are derived data (band keys of the signatures in `minhash_texts`): an index with a file missing, or a
warehouse from before the shards, is rebuilt from the signatures (`ensure`)."""

from __future__ import annotations

import math
import mmap
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from onett_domain.credit import key_filter
from onett_domain.sql import literal, literal_list
from onett_text import minhash

SHARDS = 16
FANOUT = 4  # files of one size merged into one
BASE_ROWS = 1 << 16  # files up to this many rows are of the smallest size
MAX_FILES = 64  # files a shard may hold before a submission merges them itself (compaction has not run)
REBUILD_BATCH = 50_000  # signatures read at once (50 MiB)
COMPUTE_BELOW = 16  # queried texts' bucket rows are computed when 16x their number is at most the index's rows
LOOKUP_MATCHES = 4_000_000  # bucket matches above which computed queries are joined in DuckDB, not looked up
LOOKUP_ROWS = 40_000_000  # index rows from which a lookup beats the join (bench/candidate_search.py: 1.1x at 44 M)
SORTED = ".sorted.npy"  # beside each file: its rows sorted by bucket, a (2, rows) int64 array (buckets, text ids)
FILTER = ".filter.npy"  # beside each file: a Bloom filter of its buckets (key_filter), uint64 words
LOOKUP_THREADS = 8  # files searched at once: their page faults overlap when the index is on disk
LOOKUP_CHUNK = 1 << 14  # buckets searched in a file before the pages they read are let go
MERGE_CHUNK = 1 << 19  # rows of each input's sorted rows held at once while merging them (8 MiB per array)
SORT_RUN = 1 << 22  # rows of a file sorted at once (about 160 MiB meanwhile); a larger file is sorted in runs, merged

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


def compact(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Merges every shard's files of one size FANOUT at a time, until no size has FANOUT files; run in a
    transaction of its own (the merged files leave the disk with `sweep` after it commits). Returns the merges
    made, the rows they wrote and the files whose sorted rows were written."""
    base = folder(conn)
    done = {"merges": 0, "rows rewritten": 0, "files sorted": 0}
    for shard in range(SHARDS):
        for merged in _merge_tiers(conn, base, shard, sort=True):  # each merged file's sorted rows with it
            done["merges"] += 1
            done["rows rewritten"] += merged
            done["files sorted"] += 1
    for path in map(Path, files(conn)):  # so that no submission's lookup sorts a large file
        if not _sorted_path(path).exists():
            _write_sorted(path)
            done["files sorted"] += 1
        elif not _filter_path(path).exists():  # sorted before the filters were kept
            _write_filter(path)
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
            for derived in _derived(path):
                derived.unlink(missing_ok=True)
            removed += 1
    for suffix in (SORTED, FILTER):  # derived from a file that is gone (written, then the run failed)
        for path in base.glob(f"shard=*/*{suffix}"):
            if not path.with_name(path.name[:-len(suffix)] + ".parquet").exists():
                path.unlink(missing_ok=True)
    for path in base.glob("shard=*/*.partial"):  # one a writer was killed writing (there is one writer at a time)
        path.unlink(missing_ok=True)
    return removed


def check_sorted(conn: duckdb.DuckDBPyConnection) -> tuple[int, list[str]]:
    """Compares the sorted rows beside every listed file with the file (as many rows, buckets in order, and the
    same rows: order-independent sums, a chunk at a time, so memory stays bounded) and its filter (holds every
    bucket: one it missed would hide a near copy); returns the arrays checked and the problems found. A missing
    array or filter is none: the next lookup or compaction writes it."""
    checked, problems = 0, []
    for path in map(Path, files(conn)):
        if not _sorted_path(path).exists():
            continue
        checked += 1
        try:
            run = _SortedRun(_sorted_path(path))
        except (ValueError, OSError) as exc:
            problems.append(f"sorted rows {_sorted_path(path)}: unreadable ({exc})")
            continue
        with run.handle:
            stored, ordered, last = np.zeros(3, np.uint64), True, None
            while run.at < run.rows:
                run.fill(MERGE_CHUNK)
                keys, ids = run.take(len(run.keys))
                ordered &= bool((np.diff(keys) >= 0).all()) and (last is None or keys[0] >= last)
                last = keys[-1]
                stored += _row_sums(keys, ids)
        words = np.load(_filter_path(path), mmap_mode="r") if _filter_path(path).exists() else None
        listed, rows, missed = np.zeros(3, np.uint64), 0, 0
        for batch in pq.ParquetFile(path).iter_batches(MERGE_CHUNK, columns=["bucket", "text_id"]):
            buckets = batch.column(0).to_numpy()
            listed += _row_sums(buckets, batch.column(1).to_numpy())
            rows += batch.num_rows
            if words is not None:
                missed += int((~key_filter.may_hold(words, buckets)).sum())
        if rows != run.rows or not ordered or (stored != listed).any():
            problems.append(f"sorted rows {_sorted_path(path)}: do not hold {path.name}'s rows in bucket order (delete "
                            "them: the next lookup or compaction writes them again)")
        if words is not None and (missed or len(words) != key_filter.words_for(rows)):
            problems.append(f"filter {_filter_path(path)}: misses {missed:,} of {path.name}'s {rows:,} buckets or is "
                            "not its size (delete it: the next lookup or compaction writes it again)")
    return checked, problems


def _row_sums(keys: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Order-independent sums of rows (wrapping): equal for the same rows in any order, almost surely different
    otherwise."""
    keys, ids = keys.astype(np.uint64), ids.astype(np.uint64)
    mixed = (keys * np.uint64(0x9E3779B97F4A7C15)) ^ (ids * np.uint64(0xC2B2AE3D27D4EB4F))
    mixed ^= mixed >> np.uint64(29)
    return np.array([keys.sum(dtype=np.uint64), ids.sum(dtype=np.uint64), mixed.sum(dtype=np.uint64)],
                    dtype=np.uint64)


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
    LOOKUP_MATCHES rows) the candidates come from a join: with an engine (`run`), one job per shard; without, the
    warehouse joins every shard at once (the shards share no bucket, so that is the same join, without a job's
    start-up per shard). A backfill's rows are selected from the
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
        if stored >= LOOKUP_ROWS and lookup_candidates(work / "queries", by_shard, work / "looked-up.parquet"):
            return f"SELECT DISTINCT a, b FROM read_parquet({literal(str(work / 'looked-up.parquet'))})"
    if run is None:
        rows = (f"read_parquet({literal(str(work / 'queries' / '*' / '*.parquet'))})" if computed
                else _selected_rows(indexed, query_ids))
        return pairs_sql(rows, indexed) if not computed or (work / "queries").exists() else \
            "SELECT NULL::BIGINT AS a, NULL::BIGINT AS b WHERE FALSE"
    if not computed:
        conn.execute(f"COPY (SELECT text_id FROM {query_ids}) TO {literal(str(work / 'ids.parquet'))} "
                     "(FORMAT parquet)").fetchall()
    (memory,), = conn.execute("SELECT current_setting('memory_limit')").fetchall()
    jobs = [(str(work / "queries" / f"shard={s}") if computed else str(work / "ids.parquet"), computed,
             by_shard.get(s, []), str(work / f"candidates-{s}.parquet"), memory) for s in range(SHARDS)]
    jobs = [job for job in jobs if job[2] and (not computed or Path(job[0]).exists())]
    for _ in run(shard_candidates, jobs):
        pass
    if not jobs:
        return "SELECT NULL::BIGINT AS a, NULL::BIGINT AS b WHERE FALSE"
    # a pair sharing buckets in several shards is found in each
    return f"SELECT DISTINCT a, b FROM read_parquet({literal_list([job[3] for job in jobs])})"


def lookup_candidates(queries: Path, by_shard: dict[int, list[str]], out: Path) -> bool:
    """The candidate pairs of the bucket rows under `queries` (by shard), looked up in each file's sorted rows
    (binary search, LOOKUP_THREADS files at once) and written to `out`; False, with nothing written, when they would
    match more than LOOKUP_MATCHES rows (many copies of one text: the join spills to disk where these arrays would
    not)."""
    jobs = []
    for shard, paths in sorted(by_shard.items()):
        parts = sorted((queries / f"shard={shard}").glob("*.parquet"))
        if not parts:
            continue
        rows = pq.read_table(parts, columns=["bucket", "text_id"])
        buckets = rows.column("bucket").to_numpy()
        order = np.argsort(buckets)
        buckets, ids = buckets[order], rows.column("text_id").to_numpy()[order]
        mixed = key_filter.mix(buckets)  # once for the shard's files
        jobs += [(Path(path), buckets, mixed, ids) for path in paths]
    for path in sorted({job[0] for job in jobs}):  # files merged or added since compaction: one sort at a time
        if not _sorted_path(path).exists():
            _write_sorted(path)
    matches = _Matches(LOOKUP_MATCHES)
    a_parts, b_parts = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    with ThreadPoolExecutor(LOOKUP_THREADS) as pool:
        try:
            for a, b in pool.map(lambda job: _file_pairs(*job, matches), jobs):  # in job order
                a_parts.append(a)
                b_parts.append(b)
        except _TooManyMatches:
            pool.shutdown(cancel_futures=True)
            return False
    pairs = pa.table({"a": np.concatenate(a_parts), "b": np.concatenate(b_parts)})
    pq.write_table(pairs, out, compression="none", use_dictionary=False)  # read once, next to here
    return True


class _TooManyMatches(Exception):
    """A lookup's matches passed its limit."""


class _Matches:
    """The bucket matches a lookup's files have found so far, across its threads, against a limit."""

    def __init__(self, limit: int):
        self.limit, self.found, self._lock = limit, 0, threading.Lock()

    def add(self, count: int) -> None:
        with self._lock:
            self.found += count
            if self.found > self.limit:
                raise _TooManyMatches


def _file_pairs(parquet: Path, buckets: np.ndarray, mixed: key_filter.Mixed, ids: np.ndarray,
                matches: _Matches) -> tuple[np.ndarray, np.ndarray]:
    """The candidate pairs (a, b), a < b, of the queried texts `ids` (their rows' `buckets` sorted, and `mixed` for
    the filter) with the texts of one file, found by binary search in its sorted rows LOOKUP_CHUNK buckets at a
    time. The pages each chunk read are let go after it (they stay in the page cache): the lookup's memory is a
    chunk's pages per thread, not every page of the index."""
    maybe = np.flatnonzero(key_filter.may_hold(_filter(parquet), mixed))  # most keys match nothing
    stored, let_go = _mapped(_sorted_path(parquet))
    keys, texts = stored
    a_parts, b_parts = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for start in range(0, len(maybe) if len(keys) else 0, LOOKUP_CHUNK):
        asked = maybe[start:start + LOOKUP_CHUNK]
        wanted = buckets[asked]
        first = np.searchsorted(keys, wanted, "left")
        hit = np.flatnonzero(keys[np.minimum(first, len(keys) - 1)] == wanted)
        if len(hit):
            counts = np.searchsorted(keys, wanted[hit], "right") - first[hit]
            total = int(counts.sum())
            matches.add(total)
            # each match's row: its bucket's first + k
            starts = np.repeat(first[hit] - np.cumsum(counts) + counts, counts)
            other = texts[starts + np.arange(total)]
            mine = np.repeat(ids[asked[hit]], counts)
            keep = mine != other
            a_parts.append(np.minimum(mine, other)[keep])
            b_parts.append(np.maximum(mine, other)[keep])
        let_go()
    return np.concatenate(a_parts), np.concatenate(b_parts)


def _mapped(path: Path) -> tuple[np.ndarray, Callable[[], None]]:
    """A .npy array memory-mapped read-only, as a plain array (np.load's memmap costs more to open and to index, and
    a lookup opens two a file), and a function that lets go of the pages read so far: they leave this process (its
    RSS) but stay in the page cache, where the next read finds them without the disk. The mapping closes with the
    last reference to the array."""
    with open(path, "rb") as handle:
        shape, dtype = _npy_header(handle, path)
        data = handle.tell()
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    array = np.frombuffer(mapped, dtype=dtype, count=math.prod(shape), offset=data).reshape(shape)
    advice = getattr(mmap, "MADV_DONTNEED", None)  # Linux; elsewhere the pages stay mapped until the array goes
    return array, (lambda: mapped.madvise(advice)) if advice is not None else (lambda: None)


def _sorted_path(parquet: Path) -> Path:
    return parquet.with_name(parquet.name[:-len(".parquet")] + SORTED)


def _filter_path(parquet: Path) -> Path:
    return parquet.with_name(parquet.name[:-len(".parquet")] + FILTER)


def _derived(parquet: Path) -> tuple[Path, Path]:
    """What is kept beside a file and leaves the disk with it."""
    return _sorted_path(parquet), _filter_path(parquet)


def _filter(parquet: Path) -> np.ndarray:
    """The file's Bloom filter, memory-mapped; written first (from its sorted rows) if it is missing."""
    path = _filter_path(parquet)
    if not path.exists():
        _write_filter(parquet)
    return _mapped(path)[0]


def _write_filter(parquet: Path, words: np.ndarray | None = None) -> None:
    """Writes the file's filter beside it, whole or not at all: `words` if given, else built from its sorted rows
    a chunk at a time."""
    if words is None:
        keys = np.load(_sorted_path(parquet), mmap_mode="r")[0]
        words = key_filter.empty(len(keys))
        for start in range(0, len(keys), MERGE_CHUNK):
            key_filter.add(words, keys[start:start + MERGE_CHUNK])
    partial = _filter_path(parquet).with_suffix(f".{os.getpid()}.partial")
    with open(partial, "wb") as handle:
        np.save(handle, words)
    os.replace(partial, _filter_path(parquet))


def _write_sorted(parquet: Path) -> None:
    """Writes the file's rows sorted by bucket beside it, whole or not at all, SORT_RUN rows at a time (about 40 bytes
    a row in memory meanwhile): a larger file (merged inside a submission, or restored) is sorted in runs set aside
    on disk, then merged, so memory stays bounded however large the file."""
    source = pq.ParquetFile(parquet)
    runs: list[Path] = []
    try:
        for buckets, ids in _row_runs(source):
            runs.append(_sorted_path(parquet).with_suffix(f".{os.getpid()}.run{len(runs)}.partial"))
            _save_sorted(runs[-1], buckets, ids)
        if len(runs) == 1:
            os.replace(runs[0], _sorted_path(parquet))
            _write_filter(parquet)
        else:
            _merge_sorted(runs, parquet, source.metadata.num_rows, chunk=max(1 << 10, 4 * MERGE_CHUNK // len(runs)))
    finally:
        for run in runs:
            run.unlink(missing_ok=True)


def _row_runs(source: pq.ParquetFile) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The file's (buckets, text ids), SORT_RUN rows at a time (one empty run for a file without rows)."""
    pending, held, runs = [], 0, 0
    for batch in source.iter_batches(MERGE_CHUNK, columns=["bucket", "text_id"]):
        pending.append(batch)
        held += batch.num_rows
        if held >= SORT_RUN:
            table, pending, held, runs = pa.Table.from_batches(pending), [], 0, runs + 1
            yield table.column("bucket").to_numpy(), table.column("text_id").to_numpy()
    if pending:
        table = pa.Table.from_batches(pending)
        yield table.column("bucket").to_numpy(), table.column("text_id").to_numpy()
    elif not runs:
        yield np.zeros(0, np.int64), np.zeros(0, np.int64)


def _save_sorted(path: Path, buckets: np.ndarray, ids: np.ndarray) -> None:
    """Rows as a (2, rows) int64 array sorted by bucket (the order of equal buckets does not matter: pairs are a
    set)."""
    order = np.argsort(buckets)
    with open(path, "wb") as handle:
        np.save(handle, np.stack([buckets[order], ids[order]]).astype(np.int64))


def _merge_sorted(inputs: list[Path], parquet: Path, rows: int, chunk: int = MERGE_CHUNK) -> None:
    """Writes the sorted rows of `parquet` (`rows` of them) by merging its inputs' sorted rows, `chunk` rows of each
    at a time: each step takes the next chunk of the input whose chunk ends lowest and, from the others,
    every row below that end, so what it writes sorts before everything left. Whole or not at all."""
    runs = [_SortedRun(path) for path in inputs]
    try:
        if sum(run.rows for run in runs) != rows:  # not this file's inputs: its own rows are sorted instead
            _write_sorted(parquet)
            return
        partial = _sorted_path(parquet).with_suffix(f".{os.getpid()}.partial")
        words = key_filter.empty(rows)
        with open(partial, "wb") as handle:
            np.lib.format.write_array_header_1_0(handle, {"descr": "<i8", "fortran_order": False, "shape": (2, rows)})
            data, written = handle.tell(), 0
            while written < rows:
                for run in runs:
                    run.fill(chunk)
                full = [run for run in runs if len(run.keys) == chunk]
                first = min(full, key=lambda run: run.keys[-1]) if full else None  # None: everything left is read
                end = first.keys[-1] if first else None
                pieces = [run.take(len(run.keys) if first is None or run is first
                                   else int(np.searchsorted(run.keys, end, "left"))) for run in runs]
                keys, ids = np.concatenate([k for k, _ in pieces]), np.concatenate([i for _, i in pieces])
                order = np.argsort(keys)
                handle.seek(data + 8 * written)
                keys[order].tofile(handle)
                handle.seek(data + 8 * (rows + written))
                ids[order].tofile(handle)
                key_filter.add(words, keys)
                written += len(keys)
        os.replace(partial, _sorted_path(parquet))
        _write_filter(parquet, words)
    finally:
        for run in runs:
            run.handle.close()


class _SortedRun:
    """A file's sorted rows on disk, read a chunk at a time (not memory-mapped: the merge's memory stays its
    chunks); `keys`, `ids`: the rows read and not yet merged."""

    def __init__(self, path: Path):
        self.handle = open(path, "rb")
        self.rows = _sorted_header(self.handle, path)
        self.data, self.at = self.handle.tell(), 0
        self.keys = self.ids = np.zeros(0, dtype=np.int64)

    def fill(self, chunk: int) -> None:
        missing = min(chunk, self.rows - self.at) - len(self.keys)
        if missing > 0:
            start = self.at + len(self.keys)
            self.keys = np.concatenate([self.keys, self._read(start, missing)])
            self.ids = np.concatenate([self.ids, self._read(self.rows + start, missing)])

    def take(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        taken = self.keys[:count], self.ids[:count]
        self.keys, self.ids, self.at = self.keys[count:], self.ids[count:], self.at + count
        return taken

    def _read(self, row: int, count: int) -> np.ndarray:
        self.handle.seek(self.data + 8 * row)
        return np.fromfile(self.handle, dtype="<i8", count=count)


def _sorted_header(handle: BinaryIO, path: Path) -> int:
    """Reads the header of a file's sorted rows (a .npy (2, rows) int64 array), leaving `handle` at their data;
    returns how many rows."""
    shape, dtype = _npy_header(handle, path)
    if len(shape) != 2 or shape[0] != 2 or dtype != np.dtype("<i8"):
        raise ValueError(f"{path} does not hold a file's sorted rows")
    return shape[1]


def _npy_header(handle: BinaryIO, path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and type of the .npy array in `handle`, leaving it at the array's data (C order only)."""
    version = np.lib.format.read_magic(handle)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read_header(handle)
    if fortran:
        raise ValueError(f"{path} holds an array in Fortran order")
    return shape, dtype


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
        for derived in _derived(Path(path)):  # left under this name by a failed run: not these rows
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
                if not _sorted_path(parquet).exists():
                    _write_sorted(parquet)
            _merge_sorted([_sorted_path(p) for p in inputs], base / written[0][1], written[0][2])
        yield sum(n for _, _, n in written)


def _unlist(conn: duckdb.DuckDBPyConnection, shard: int, names: list[str]) -> None:
    conn.execute(f"DELETE FROM near_index_files WHERE shard = ? AND file IN ({', '.join('?' * len(names))})",
                 [shard, *names]).fetchall()
