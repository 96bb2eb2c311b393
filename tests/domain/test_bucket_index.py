"""The near-duplicate index's bucket shards on real text: the same candidates whatever engine runs the shard jobs
and however the files were written, merged by size, rebuilt when files are lost, and left behind by nothing (a
failed run, a merge, an erasure)."""

from __future__ import annotations

import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import edited_petitions, warehouse
from onett_domain.credit import bucket_index, key_filter, sorted_buckets
from onett_domain.credit.near_index import find_near_pairs, index_texts
from onett_resources.warehouse import transaction
from onett_text import minhash
from onett_text.hashing import content_hash


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """1,200 petitions (with the corpus's own reposts) and edited copies (one word in 25) of 60 long ones."""
    return edited_petitions(1200, 60, seed=11, word="바뀐말", at=3)


def _index(conn: duckdb.DuckDBPyConnection, texts: list[str], pieces: int) -> list[str]:
    hashes = content_hash(pl.Series(texts)).to_list()
    step = -(-len(texts) // pieces)
    for start in range(0, len(texts), step):
        with transaction(conn):
            index_texts(conn, hashes[start:start + step], texts[start:start + step])
    return hashes


def _pairs(conn: duckdb.DuckDBPyConnection, hashes: list[str], run=None) -> set[tuple]:
    conn.register("_all", pl.DataFrame({"content_hash": sorted(set(hashes))}).to_arrow())
    with transaction(conn):
        find_near_pairs(conn, "_all", run)
    conn.unregister("_all")
    return set(conn.execute("SELECT content_hash, other_hash, similarity FROM near_pairs").fetchall())


def _buckets(conn: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(content hash, bucket) rows: text ids depend on the order texts were indexed in."""
    conn.execute(f"CREATE OR REPLACE TEMP VIEW _b AS {bucket_index.rows(conn).sql_query()}")
    return conn.execute("SELECT t.content_hash, b.bucket FROM _b b JOIN minhash_texts t USING (text_id) "
                        "ORDER BY ALL").fetchall()


def _on_disk(conn: duckdb.DuckDBPyConnection) -> set[str]:
    return {str(p) for p in bucket_index.folder(conn).glob("shard=*/*.parquet")}


def _sorted_on_disk(conn: duckdb.DuckDBPyConnection, suffix: str = sorted_buckets.SORTED) -> set[str]:
    """The files whose sorted rows (or, with `suffix` FILTER, filters) are on disk."""
    return {str(p)[:-len(suffix)] + ".parquet" for p in bucket_index.folder(conn).glob(f"shard=*/*{suffix}")}


def _sorted_rows_match(conn: duckdb.DuckDBPyConnection) -> int:
    """Asserts that every sorted array on disk beside a listed file holds that file's rows, sorted by bucket, and
    that the filter beside it holds every bucket; returns how many were checked."""
    checked = 0
    for path in bucket_index.files(conn):
        sorted_path = Path(path[:-len(".parquet")] + sorted_buckets.SORTED)
        if not sorted_path.exists():
            continue
        stored = np.load(sorted_path)
        rows = duckdb.sql(f"SELECT bucket, text_id FROM read_parquet('{path}') ORDER BY ALL").fetchall()
        assert (np.diff(stored[0]) >= 0).all(), sorted_path
        assert sorted(zip(stored[0].tolist(), stored[1].tolist())) == rows, sorted_path
        words = np.load(path[:-len(".parquet")] + sorted_buckets.FILTER)
        assert len(words) == key_filter.words_for(len(rows)) and key_filter.may_hold(words, stored[0]).all()
        checked += 1
    return checked


def _pool_runner(fn, jobs):
    """Shard jobs in other processes, as an engine's workers run them (they see only the files)."""
    with ProcessPoolExecutor(2) as pool:
        yield from pool.map(fn, *zip(*jobs)) if jobs else ()


def test_shards_give_the_same_pairs_whatever_runs_them_and_however_they_were_written(texts, tmp_path, monkeypatch):
    monkeypatch.setattr(sorted_buckets, "MERGE_CHUNK", 97)  # merged sorted rows in many steps
    one, many = warehouse(tmp_path / "one.duckdb"), warehouse(tmp_path / "many.duckdb")
    hashes = _index(one, texts, 1)
    _index(many, texts, 9)  # nine submissions: a file per shard each, no merge inside them
    per_shard = many.execute("SELECT max(n) FROM (SELECT count(*) AS n FROM near_index_files GROUP BY shard)")
    assert per_shard.fetchall() == [(9,)]
    unmerged = _pairs(many, hashes, _pool_runner)
    assert bucket_index.pending_merges(many) == bucket_index.SHARDS
    with transaction(many):
        done = bucket_index.compact(many)
    assert done["merges"] >= bucket_index.SHARDS * 2 and bucket_index.pending_merges(many) == 0
    assert _sorted_rows_match(many) == len(bucket_index.files(many))  # merged from the inputs' sorted rows
    assert many.execute("SELECT max(n) FROM (SELECT count(*) AS n FROM near_index_files GROUP BY shard)"
                        ).fetchall() == [(3,)]  # 9 = 4 + 4 + 1: two merged files and the newest
    assert _buckets(one) == _buckets(many)
    assert len(_buckets(one)) == one.execute("SELECT count(*) FROM minhash_texts").fetchall()[0][0] * minhash.BANDS
    shards = {s for (s,) in many.execute("SELECT DISTINCT shard FROM near_index_files").fetchall()}
    assert shards == set(range(bucket_index.SHARDS))
    for shard in range(bucket_index.SHARDS):
        for path in bucket_index.files(many, shard):
            keys = duckdb.sql(f"SELECT DISTINCT bucket & {bucket_index.SHARDS - 1} FROM read_parquet('{path}')")
            assert keys.fetchall() == [(shard,)], path

    found = _pairs(one, hashes)
    many.execute("DELETE FROM near_pairs")
    assert found == _pairs(many, hashes, _pool_runner) == unmerged
    copies = {frozenset((a, b)) for a, b, _ in found}
    edited = content_hash(pl.Series(texts[-60:])).to_list()
    assert all(any(h in pair for pair in copies) for h in edited)  # every edited copy is found
    assert all(s >= minhash.THRESHOLD for *_, s in found)
    monkeypatch.setattr(bucket_index, "JOIN_BY_SHARD_TEXTS", 1)  # as for a backfill: shard by shard, in this process
    many.execute("DELETE FROM near_pairs")
    assert _pairs(many, hashes) == found
    bucket_index.sweep(many)  # as the warehouse's next writing connection does
    assert _on_disk(many) == set(bucket_index.files(many)) == _sorted_on_disk(many) \
        == _sorted_on_disk(many, sorted_buckets.FILTER)  # merges left nothing behind


def test_a_shard_that_piled_up_files_without_compaction_is_merged_by_the_next_submission(texts, tmp_path,
                                                                                       monkeypatch):
    monkeypatch.setattr(bucket_index, "MAX_FILES", 5)
    conn = warehouse(tmp_path / "w.duckdb")
    _index(conn, texts, 12)
    counts = conn.execute("SELECT count(*) FROM near_index_files GROUP BY shard").fetchall()
    assert len(counts) == bucket_index.SHARDS and max(n for (n,) in counts) <= 5
    merged = [f for f in bucket_index.files(conn) if "-merged-" in f]
    assert merged and set(merged) <= _sorted_on_disk(conn)  # sorted with the merge: no lookup sorts them whole
    assert _sorted_rows_match(conn) >= len(merged)
    fresh = warehouse(tmp_path / "fresh.duckdb")
    _index(fresh, texts, 1)
    assert _buckets(conn) == _buckets(fresh)


def test_a_file_larger_than_a_sort_run_is_sorted_in_runs_in_bounded_memory(tmp_path, monkeypatch):
    """A file merged inside a submission, or restored, may be far larger than what should be sorted in memory at
    once: its sorted rows are made from runs set aside on disk, the same rows as a sort of the whole file."""
    rng = np.random.default_rng(5)
    rows = 1 << 21
    buckets = rng.integers(-(1 << 62), 1 << 62, rows, dtype=np.int64)
    buckets[::7] = buckets[3]  # a bucket many texts share, across runs
    ids = rng.permutation(rows).astype(np.int64)
    parquet = tmp_path / "shard=0" / "0000000001-merged-0.parquet"
    parquet.parent.mkdir()
    pq.write_table(pa.table({"bucket": buckets, "text_id": ids}), parquet, row_group_size=100_000)

    def sorted_with(run: int) -> tuple[np.ndarray, int]:
        monkeypatch.setattr(sorted_buckets, "SORT_RUN", run)
        for derived in sorted_buckets.derived(parquet):
            derived.unlink(missing_ok=True)
        tracemalloc.start()
        sorted_buckets.write(parquet)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return np.load(sorted_buckets.sorted_path(parquet)), peak

    monkeypatch.setattr(sorted_buckets, "MERGE_CHUNK", 1 << 14)
    whole, whole_peak = sorted_with(rows)
    runs, runs_peak = sorted_with(1 << 16)  # 32 runs
    assert np.array_equal(runs[0], np.sort(buckets)) and np.array_equal(runs[0], whole[0])
    def by_row(sorted_rows: np.ndarray) -> np.ndarray:  # equal buckets may hold their texts in any order
        return sorted_rows[:, np.lexsort((sorted_rows[1], sorted_rows[0]))]
    assert np.array_equal(by_row(runs), by_row(np.stack([buckets, ids])))  # the same rows
    assert key_filter.may_hold(np.load(sorted_buckets.filter_path(parquet)), buckets).all()
    assert not list(tmp_path.glob("shard=0/*.partial"))  # the runs leave the disk
    assert runs_peak * 4 < whole_peak, (runs_peak, whole_peak)


def test_compaction_sorts_small_files_side_by_side_and_large_ones_one_at_a_time(texts, tmp_path, monkeypatch):
    """Sorting a file holds about 50 bytes a row: files above SORT_ALONE_ROWS are never sorted two at once."""
    conn = warehouse(tmp_path / "w.duckdb")
    _index(conn, texts, 1)
    paths = [Path(f) for f in bucket_index.files(conn)]
    for path in paths:
        for derived in sorted_buckets.derived(path):
            derived.unlink(missing_ok=True)
    rows = sorted(pq.ParquetFile(p).metadata.num_rows for p in paths)
    monkeypatch.setattr(bucket_index, "SORT_THREADS", 4)
    monkeypatch.setattr(bucket_index, "SORT_ALONE_ROWS", rows[len(rows) // 2])
    running: list[bool] = []  # whether each file being sorted now is large
    most = {"large": 0, "all": 0}
    write = sorted_buckets.write

    def watched(path: Path) -> None:
        large = pq.ParquetFile(path).metadata.num_rows > bucket_index.SORT_ALONE_ROWS
        running.append(large)
        most["large"], most["all"] = max(most["large"], sum(running)), max(most["all"], len(running))
        time.sleep(0.05)
        write(path)
        running.remove(large)

    monkeypatch.setattr(sorted_buckets, "write", watched)
    with transaction(conn):
        done = bucket_index.compact(conn)
    assert done["files sorted"] == len(paths) and _sorted_rows_match(conn) == len(paths)
    assert most == {"large": 1, "all": most["all"]} and most["all"] >= 2, most


def test_files_of_a_failed_run_are_never_read_and_are_removed_by_the_next(texts, tmp_path):
    conn = warehouse(tmp_path / "w.duckdb")
    hashes = _index(conn, texts[:600], 1)
    before = _buckets(conn)
    listed = set(bucket_index.files(conn))
    with pytest.raises(RuntimeError, match="killed"):
        with transaction(conn):
            index_texts(conn, content_hash(pl.Series(texts[600:900])).to_list(), texts[600:900])
            raise RuntimeError("killed after writing its files")
    assert _on_disk(conn) > listed  # its files are there, but nothing names them
    assert _buckets(conn) == before
    for path in _on_disk(conn) - listed:  # as if it had also sorted them: not the rows of the next files so named
        np.save(path[:-len(".parquet")] + sorted_buckets.SORTED, np.zeros((2, 3), np.int64))
        np.save(path[:-len(".parquet")] + sorted_buckets.FILTER, np.zeros(1, np.uint64))
    _index(conn, texts[600:], 1)
    _sorted_rows_match(conn)
    bucket_index.sweep(conn)
    assert _on_disk(conn) == set(bucket_index.files(conn)) >= _sorted_on_disk(conn) \
        >= _sorted_on_disk(conn, sorted_buckets.FILTER)
    fresh = warehouse(tmp_path / "fresh.duckdb")
    all_hashes = _index(fresh, texts, 1)
    assert _buckets(conn) == _buckets(fresh)
    assert _pairs(conn, hashes + all_hashes) == _pairs(fresh, all_hashes)


def test_lost_files_and_a_warehouse_from_before_the_shards_are_rebuilt_from_the_signatures(texts, tmp_path,
                                                                                         monkeypatch):
    monkeypatch.setattr(bucket_index, "LOOKUP_ROWS", 0)  # lookups in an index this small too
    conn = warehouse(tmp_path / "w.duckdb")
    hashes = _index(conn, texts, 4)
    expected, pairs = _buckets(conn), _pairs(conn, hashes)
    Path(bucket_index.files(conn, 5)[0]).unlink()  # a restore without the folder, a disk error
    with transaction(conn):
        bucket_index.ensure(conn)
    assert _buckets(conn) == expected

    # the buckets as a warehouse table, as earlier versions kept them
    conn.execute(f"CREATE TABLE minhash_buckets AS {bucket_index.rows(conn).sql_query()}")
    conn.execute("DELETE FROM near_index_files")
    with transaction(conn):
        bucket_index.ensure(conn)
    assert conn.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'minhash_buckets'").fetchall() == [(0,)]
    assert _buckets(conn) == expected
    conn.execute("DELETE FROM near_pairs")
    assert _pairs(conn, hashes) == pairs

    # the sorted rows and filters beside the files are derived too: a restore brings only the files
    for path in bucket_index.folder(conn).glob("shard=*/*.npy"):
        path.unlink()
    few = [h for h in hashes[-60:] if hashes.count(h) == 1]
    conn.register("_few", pl.DataFrame({"content_hash": few}).to_arrow())
    with transaction(conn):
        find_near_pairs(conn, "_few")
    assert _sorted_on_disk(conn) == set(bucket_index.files(conn)) == _sorted_on_disk(conn, sorted_buckets.FILTER)
    assert _sorted_rows_match(conn) == len(bucket_index.files(conn))
    assert set(conn.execute("SELECT content_hash, other_hash, similarity FROM near_pairs").fetchall()) == pairs
    assert any(h in few for pair in pairs for h in pair[:2])  # the few's pairs were forgotten, then found again


def test_forgotten_texts_leave_every_shard_file(texts, tmp_path):
    conn = warehouse(tmp_path / "w.duckdb")
    _index(conn, texts, 3)
    forgotten = conn.execute("SELECT text_id FROM minhash_texts ORDER BY text_id LIMIT 100").fetchall()
    conn.execute("CREATE TEMP TABLE _forget AS SELECT text_id FROM minhash_texts ORDER BY text_id LIMIT 100")
    old = set(bucket_index.files(conn))
    with transaction(conn):
        bucket_index.forget(conn, "_forget")
    assert bucket_index.sweep(conn) == len(old)
    ids = {i for (i,) in bucket_index.rows(conn).select("text_id").distinct().fetchall()}
    assert ids and not ids & {i for (i,) in forgotten}
    on_disk = duckdb.sql(f"SELECT count(*) FROM read_parquet({sorted(_on_disk(conn))}) "
                         f"WHERE text_id IN ({', '.join(str(i) for (i,) in forgotten)})").fetchall()
    assert on_disk == [(0,)]


@pytest.mark.parametrize("runner", [None, _pool_runner], ids=["warehouse", "shard jobs"])
def test_a_few_texts_into_a_large_index_find_what_a_scan_of_the_index_finds(texts, tmp_path, monkeypatch, runner):
    """The queried texts' bucket rows computed from their signatures (few texts, many indexed) or selected from the
    shards (a backfill) give the same candidates, with the search in the warehouse or in shard jobs, and looked up
    with the pages read let go after every bucket."""
    conn = warehouse(tmp_path / "w.duckdb")
    hashes = _index(conn, texts, 2)
    edited = content_hash(pl.Series(texts[-60:])).to_list()
    (ids,), = conn.execute("SELECT count(*) FROM minhash_texts").fetchall()
    assert 60 * minhash.BANDS * bucket_index.COMPUTE_BELOW <= ids * minhash.BANDS  # the computed path by default
    monkeypatch.setattr(bucket_index, "LOOKUP_ROWS", 0)  # lookups in an index this small too
    found, looked_up = {}, []
    lookup = sorted_buckets.lookup
    monkeypatch.setattr(sorted_buckets, "lookup", lambda *args: looked_up.append(lookup(*args)) or looked_up[-1])
    for how, factor, matches, chunk in (
            ("looked up", bucket_index.COMPUTE_BELOW, sorted_buckets.LOOKUP_MATCHES, sorted_buckets.LOOKUP_CHUNK),
            ("looked up a bucket at a time", bucket_index.COMPUTE_BELOW, sorted_buckets.LOOKUP_MATCHES, 1),
            ("computed", bucket_index.COMPUTE_BELOW, 0, 1), ("selected", 10 ** 9, 0, 1)):
        monkeypatch.setattr(bucket_index, "COMPUTE_BELOW", factor)
        monkeypatch.setattr(sorted_buckets, "LOOKUP_MATCHES", matches)
        monkeypatch.setattr(sorted_buckets, "LOOKUP_CHUNK", chunk)
        conn.execute("DELETE FROM near_pairs")
        conn.register("_few", pl.DataFrame({"content_hash": edited}).to_arrow())
        with transaction(conn):
            find_near_pairs(conn, "_few", runner)
        found[how] = set(conn.execute("SELECT content_hash, other_hash, similarity FROM near_pairs").fetchall())
    assert found["looked up"] == found["looked up a bucket at a time"] == found["computed"] == found["selected"]
    assert looked_up[:2] == [True, True] and not any(looked_up[2:])  # the lookups, then the join
    assert {h for pair in found["computed"] for h in pair[:2]} >= set(edited) - {h for h in edited if hashes.count(h) > 1}
    assert len(found["computed"]) >= 2 * 60
