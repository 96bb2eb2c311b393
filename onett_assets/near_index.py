"""The persistent near-duplicate index in the warehouse: per distinct text (submissions and reference alike) a
text id, its MinHash signature and its LSH band buckets, so a new submission is compared with everything before
it by an equality join on the bucket, without reprocessing the pool.

Laid out for the two costs that grow with the pool: every submission scans the bucket rows (two integers each:
the band number is mixed into the bucket key, and the text is named by its id, not its 32-character hash), and
every indexed text inserts a signature (stored as UINTEGER[256], which DuckDB inserts many times faster than a
1 KiB blob)."""

from __future__ import annotations

import tempfile

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from onett_assets.preprocessing import near_dedup
from onett_assets.preprocessing.pipeline import index_frame
from onett_resources.warehouse import signatures_from_blobs

VERIFY_BATCH = 8_192  # candidate pairs verified at once: two 1 KiB signatures each (32,768 cost 180 MB more, no faster)


def index_texts(conn: duckdb.DuckDBPyConnection, hashes: list[str], texts: list[str]) -> int:
    """Adds signatures and band buckets for the texts not indexed yet; returns how many were added.
    Texts too short for MinHash are left to exact dedup."""
    conn.register("_candidates", pl.DataFrame({"content_hash": hashes}, schema={"content_hash": pl.String}).to_arrow())
    known = {h for (h,) in conn.execute(
        "SELECT content_hash FROM minhash_texts SEMI JOIN _candidates USING (content_hash)").fetchall()}
    conn.unregister("_candidates")
    todo: dict[str, str] = {}
    for h, t in zip(hashes, texts):
        if h not in known and h not in todo:
            todo[h] = t
    if not todo:
        return 0
    sigs, eligible = near_dedup.signatures(list(todo.values()))
    index = index_frame([h for h, ok in zip(todo, eligible) if ok], sigs[eligible])
    conn.register("_index_in", index.with_row_index("row_key").to_arrow())
    try:
        return _add_to_index(conn, "_index_in")
    finally:
        conn.unregister("_index_in")


def index_signatures(conn: duckdb.DuckDBPyConnection, parquet_files: list[str]) -> int:
    """Adds the signatures computed by preprocessing (Parquet: content_hash, signature, bands) that are not
    indexed yet; DuckDB reads them straight from the files. Returns how many texts were added."""
    if not parquet_files:
        return 0
    parts = f"read_parquet({_sql_list(parquet_files)}, filename = true, file_row_number = true)"
    (signature_type,), = conn.execute(f"SELECT typeof(signature) FROM {parts} LIMIT 1").fetchall() or [("",)]
    if signature_type == "BLOB":
        return _index_blob_parts(conn, parquet_files)
    conn.execute(f"CREATE OR REPLACE TEMP VIEW _index_in AS "
                 f"SELECT *, (filename, file_row_number) AS row_key FROM {parts}")
    try:
        return _add_to_index(conn, "_index_in")
    finally:
        conn.execute("DROP VIEW _index_in")


def _index_blob_parts(conn: duckdb.DuckDBPyConnection, parquet_files: list[str]) -> int:
    """Parts written by versions that stored signatures as raw little-endian bytes: converted part by part."""
    added = 0
    for path in parquet_files:
        part = pq.read_table(path, columns=["content_hash", "signature", "bands"])
        part = part.set_column(1, "signature", signatures_from_blobs(part.column("signature")))
        conn.register("_index_in", part.append_column("row_key", pa.array(np.arange(part.num_rows))))
        try:
            added += _add_to_index(conn, "_index_in")
        finally:
            conn.unregister("_index_in")
    return added


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _add_to_index(conn: duckdb.DuckDBPyConnection, source: str) -> int:
    """`source`: content_hash, signature, bands and a unique `row_key`. The texts not indexed yet get the next
    text ids (in content-hash order); their signatures and band rows stream from `source` into the index, so a
    large upload's signatures are never all held at once."""
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _index_new AS
        SELECT (SELECT coalesce(max(text_id), 0) FROM minhash_texts) + row_number() OVER (ORDER BY content_hash)
                   AS text_id, content_hash, row_key
        FROM (SELECT content_hash, min(row_key) AS row_key FROM {source} GROUP BY content_hash)
        ANTI JOIN minhash_texts USING (content_hash)
        """  # a hash anti-join: probing a key index per row is ten times slower
    )
    new_rows = f"{source} s JOIN _index_new n ON n.content_hash = s.content_hash AND n.row_key = s.row_key"
    conn.execute(f"INSERT INTO minhash_texts SELECT n.text_id, n.content_hash, s.signature FROM {new_rows}")
    conn.execute(f"INSERT INTO minhash_buckets SELECT unnest(s.bands), n.text_id FROM {new_rows}")
    added = conn.execute("SELECT count(*) FROM _index_new").fetchall()[0][0]
    conn.execute("DROP TABLE _index_new")
    return added


def find_near_pairs(conn: duckdb.DuckDBPyConnection, queries: str) -> int:
    """Finds and stores (both ways) every indexed text near one of the texts in table `queries` (column
    content_hash); returns the pairs found. Candidates come from an equality join on the LSH bands and are
    verified in batches as DuckDB streams them, with their signatures: memory stays bounded however many
    candidates a large upload brings."""
    conn.execute(f"CREATE OR REPLACE TEMP TABLE _queries AS SELECT DISTINCT content_hash FROM {queries}")
    conn.execute(
        """DELETE FROM near_pairs WHERE content_hash IN (SELECT content_hash FROM _queries)
                                  OR other_hash IN (SELECT content_hash FROM _queries)"""
    )
    conn.execute(
        """
        CREATE OR REPLACE TEMP TABLE _query_ids AS
        SELECT text_id FROM minhash_texts SEMI JOIN _queries USING (content_hash)
        """
    )
    conn.execute(
        """
        CREATE OR REPLACE TEMP TABLE _candidates AS
        SELECT DISTINCT least(a.text_id, b.text_id) AS a, greatest(a.text_id, b.text_id) AS b
        FROM (SELECT bucket, text_id FROM minhash_buckets SEMI JOIN _query_ids USING (text_id)) a
        JOIN minhash_buckets b ON a.bucket = b.bucket AND a.text_id <> b.text_id
        """
    )
    reader = conn.sql(
        """SELECT c.a, c.b, ta.signature AS sa, tb.signature AS sb
           FROM _candidates c JOIN minhash_texts ta ON ta.text_id = c.a JOIN minhash_texts tb ON tb.text_id = c.b"""
    ).to_arrow_reader(VERIFY_BATCH)
    # Pairs found go to a Parquet file as they are found (an upload of many near copies of one another finds
    # tens of millions), and into near_pairs once the stream is done: no other statement may run meanwhile.
    with tempfile.TemporaryDirectory(prefix="onett-near-pairs-") as scratch:
        found, path = 0, f"{scratch}/pairs.parquet"
        with pq.ParquetWriter(path, PAIRS_SCHEMA) as writer:
            for batch in reader:
                similarity = near_dedup.similarity(_matrix(batch.column("sa")), _matrix(batch.column("sb")))
                keep = similarity >= near_dedup.THRESHOLD
                if keep.any():
                    mask = pa.array(keep)
                    writer.write_table(pa.table(
                        {"a": batch.column("a").filter(mask), "b": batch.column("b").filter(mask),
                         "similarity": pa.array(similarity[keep], pa.float64())}, schema=PAIRS_SCHEMA))
                    found += int(keep.sum())
        conn.execute("DROP TABLE _candidates; DROP TABLE _query_ids; DROP TABLE _queries")
        if found:
            conn.execute(
                """
                INSERT INTO near_pairs
                WITH pairs AS (SELECT ta.content_hash AS a, tb.content_hash AS b, p.similarity
                               FROM read_parquet(?) p JOIN minhash_texts ta ON ta.text_id = p.a
                               JOIN minhash_texts tb ON tb.text_id = p.b)
                SELECT a, b, similarity FROM pairs UNION ALL SELECT b, a, similarity FROM pairs
                """,
                [path],
            )
    return found


PAIRS_SCHEMA = pa.schema([("a", pa.int64()), ("b", pa.int64()), ("similarity", pa.float64())])


def _matrix(signatures: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """(n, NUM_PERM) uint32 signatures from an Arrow column of fixed-size lists, without copying row by row."""
    if isinstance(signatures, pa.ChunkedArray):
        signatures = signatures.combine_chunks()
    return np.asarray(signatures.flatten()).reshape(len(signatures), near_dedup.NUM_PERM)
