"""A submission's texts joined with a pool's documents in DuckDB: on the 32-character content hash, on the same 128
bits as a UUID (`hash_key`), and on the hash cast to a UUID inside the join (what a key computed at read time would
cost): why the credit tables keep their content hashes a second time as 16-byte keys.

    .venv/bin/python bench/hash_keys.py [--rows 20e6] [--keys 20000] [--threads 1] [--runs 3]

The documents are a throwaway DuckDB file of `--rows` rows (content hash = BLAKE2b-128 hex as the platform writes,
its UUID, and a few narrow columns); the submission's `--keys` texts are drawn from them. Prints the median seconds
of each join (the same rows matched by all) and their ratio to the join on strings.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

JOINS = {
    "content_hash (VARCHAR)": "SELECT count(*), max(d.position) FROM documents d JOIN submission s USING (content_hash)",
    "hash_key (UUID)": "SELECT count(*), max(d.position) FROM documents d JOIN submission s USING (hash_key)",
    "content_hash::UUID in the join": "SELECT count(*), max(d.position) FROM documents d "
                                      "JOIN submission s ON d.content_hash::UUID = s.hash_key",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=float, default=20e6)
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="onett-hash-keys-") as folder:
        conn = duckdb.connect(str(Path(folder) / "pool.duckdb"))
        conn.execute(f"SET threads = {args.threads}")
        # md5 stands in for BLAKE2b-128: the same 32 lower-case hex characters, made inside DuckDB
        conn.execute(f"""CREATE TABLE documents AS
            SELECT md5(i::VARCHAR) AS content_hash, md5(i::VARCHAR)::UUID AS hash_key,
                   'contributor-' || (i % 50) AS contributor_id, i AS position
            FROM range({int(args.rows)}) t(i)""")
        conn.execute(f"CREATE TABLE submission AS SELECT content_hash, hash_key FROM documents "
                     f"USING SAMPLE {args.keys} ROWS (reservoir, 1)")
        conn.execute("CHECKPOINT")
        print(f"{int(args.rows):,} documents, {args.keys:,} submitted texts, {args.threads} thread(s), "
              f"median of {args.runs} warm runs")
        baseline = None
        for name, query in JOINS.items():
            conn.execute(query).fetchall()  # warm
            seconds, result = [], None
            for _ in range(args.runs):
                start = time.perf_counter()
                result = conn.execute(query).fetchall()
                seconds.append(time.perf_counter() - start)
            median = statistics.median(seconds)
            baseline = baseline or median
            print(f"  {name:32s} {median:7.3f} s  {median / baseline:5.2f}x  rows matched {result[0][0]:,}")
        conn.close()


if __name__ == "__main__":
    main()
