"""Near-duplicate candidate search against the size of the index, for a submission of fixed size: DuckDB's join over
every band-bucket row (the backfill path, and the engine's shard jobs) against the lookup in each file's rows sorted
by bucket (a submission small next to the pool), with and without the Bloom filter beside each file.

    .venv/bin/python bench/candidate_search.py [--rows 11e6 44e6 176e6] [--queries 1150000] [--match 0.05] [--runs 3]
                                              [--cold [--keep-filters]]

Bucket keys are uniform 64-bit hashes, as the real ones are (MinHash band values mixed), so random keys stand in for
them; `--match` of the queries' keys are drawn from the index (the rest match nothing, as most of a new submission's
do). The index is written by the platform's own code (bucket_index.append in batches, then compact: files merged by
size and sorted as after `onett ingest`) in a throwaway warehouse. 1.15 M query keys are a 10.8 MB submission's
(18,000 texts x 64 bands); 89 M bucket rows are the 1 GB pool of bench/throughput.py. Prints, per index size, the
medians of `--runs` warm runs of each path (seconds), their ratio and the pairs found (equal for all), and writes
bench/results/candidate_search.json. "no filter" is the lookup with every key let through its filter (as before the
filters were kept), in the same process. `--cold` drops the index's files from the page cache before every run (a
pool larger than the machine's memory), so each run reads what it needs from disk; with `--keep-filters` the filters
stay cached (a machine whose memory holds them, an eighth of the sorted rows, but not the rows).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from onett_domain.credit import bucket_index, key_filter, sorted_buckets
from redecide import evict
from onett_resources.warehouse import SCHEMA, transaction

BATCH = 8_000_000  # rows appended at once, as one submission's file per shard


def build(folder: Path, rows: int, rng: np.random.Generator) -> tuple[duckdb.DuckDBPyConnection, np.ndarray]:
    conn = duckdb.connect(str(folder / "w.duckdb"))
    conn.execute(SCHEMA)
    sample = []
    for start in range(0, rows, BATCH):
        n = min(BATCH, rows - start)
        keys = rng.integers(-2**63, 2**63 - 1, n, dtype=np.int64)
        sample.append(keys[:: max(1, rows // 200_000)])
        conn.register("_rows", pa.table({"bucket": keys, "text_id": np.arange(start, start + n, dtype=np.int64) // 64}))
        with transaction(conn):
            bucket_index.append(conn, "SELECT bucket, text_id FROM _rows")
        conn.unregister("_rows")
    with transaction(conn):
        bucket_index.compact(conn)
    bucket_index.sweep(conn)
    return conn, np.concatenate(sample)


def queries(folder: Path, count: int, match: float, sample: np.ndarray, rng: np.random.Generator) -> Path:
    matched = int(count * match)
    keys = np.concatenate([rng.choice(sample, matched), rng.integers(-2**63, 2**63 - 1, count - matched, dtype=np.int64)])
    ids = 10**12 + np.arange(count, dtype=np.int64) // 64  # texts not in the index
    target = folder / "queries"
    conn = duckdb.connect()
    conn.register("_q", pa.table({"bucket": keys, "text_id": ids}))
    conn.execute(f"""COPY (SELECT bucket, text_id, (bucket & {bucket_index.SHARDS - 1})::INTEGER AS shard FROM _q)
                     TO '{target}' (FORMAT parquet, PARTITION_BY (shard))""")
    return target


def _status(field: str) -> int:
    """A /proc/self/status figure, in bytes."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith(field + ":"))


def peak_rss_added(run) -> tuple[object, int]:
    """`run()`'s result and the peak RSS it reached above the RSS before it (peak reset first)."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    before = _status("VmRSS")
    result = run()
    return result, _status("VmHWM") - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=float, nargs="+", default=[11e6, 44e6, 176e6])
    parser.add_argument("--queries", type=int, default=1_150_000)
    parser.add_argument("--match", type=float, default=0.05)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="drop the index's files from the page cache before each run")
    parser.add_argument("--keep-filters", action="store_true",
                        help="with --cold: leave the filters in the page cache (memory holds them, not the rows)")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "candidate_search.json")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    results = []
    for rows in (int(r) for r in args.rows):
        folder = Path(tempfile.mkdtemp(prefix="onett-candidates-"))
        try:
            started = time.perf_counter()
            conn, sample = build(folder, rows, rng)
            built = time.perf_counter() - started
            query_folder = queries(folder, args.queries, args.match, sample, rng)
            indexed = bucket_index.files(conn)
            by_shard = bucket_index.files_by_shard(conn)
            join_sql = bucket_index.pairs_sql(f"read_parquet('{query_folder}/*/*.parquet')", indexed)
            index_files = [p for p in bucket_index.folder(conn).rglob("*") if p.is_file()]

            def join() -> int:
                return conn.execute(f"SELECT count(*) FROM ({join_sql})").fetchall()[0][0]

            def lookup() -> int:
                assert sorted_buckets.lookup(query_folder, by_shard, folder / "pairs.parquet")
                return duckdb.sql(f"SELECT count(*) FROM (SELECT DISTINCT a, b FROM "
                                  f"read_parquet('{folder / 'pairs.parquet'}'))").fetchall()[0][0]

            def unfiltered() -> int:
                may_hold = key_filter.may_hold
                key_filter.may_hold = lambda words, keys: np.ones(len(keys), dtype=bool)
                try:
                    return lookup()
                finally:
                    key_filter.may_hold = may_hold

            seconds, pairs, added = {}, {}, {}
            for name, path in (("join", join), ("no filter", unfiltered), ("lookup", lookup)):
                times = []
                for _ in range(args.runs + (0 if args.cold else 1)):  # a warm first run fills the cache: not counted
                    if args.cold:
                        evict([p for p in index_files
                               if not (args.keep_filters and p.name.endswith(sorted_buckets.FILTER))])
                    t = time.perf_counter()
                    pairs[name], peak = peak_rss_added(path)
                    times.append(time.perf_counter() - t)
                    added[name] = max(added.get(name, 0), peak)
                seconds[name] = statistics.median(times if args.cold else times[1:])
            assert len(set(pairs.values())) == 1, pairs
            row = {"index_rows": rows, "files": len(indexed), "query_keys": args.queries, "match": args.match,
                   "pairs": pairs["join"], "cold": args.cold, "filters_cached": args.keep_filters,
                   "join_s": seconds["join"], "no_filter_s": seconds["no filter"], "lookup_s": seconds["lookup"],
                   "build_s": built, "join_peak_rss_added": added["join"],
                   "lookup_peak_rss_added": added["lookup"],
                   "filter_bytes": sum(p.stat().st_size for p in index_files if p.name.endswith(sorted_buckets.FILTER)),
                   "sorted_bytes": sum(p.stat().st_size for p in index_files if p.name.endswith(sorted_buckets.SORTED))}
            results.append(row)
            print(f"{rows / 1e6:7.0f} M bucket rows in {len(indexed)} files ({'cold' if args.cold else 'warm'}): "
                  f"join {row['join_s']:.3f} s, lookup without filters {row['no_filter_s']:.3f} s, with "
                  f"{row['lookup_s']:.3f} s ({row['no_filter_s'] / row['lookup_s']:.1f}x); {pairs['join']:,} pairs; "
                  f"filters {row['filter_bytes'] / 2**20:.0f} MiB, sorted rows {row['sorted_bytes'] / 2**20:.0f} MiB "
                  f"(index built in {built:.0f} s); peak RSS added: join {added['join'] / 2**20:.0f} MiB, lookup "
                  f"{added['lookup'] / 2**20:.0f} MiB", flush=True)
            conn.close()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "runs": args.runs,
                                     "cold": args.cold,
                                     "results": results}, indent=2))


if __name__ == "__main__":
    main()
