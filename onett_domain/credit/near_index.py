"""The persistent near-duplicate index: per distinct text (uploads and reference alike) a text id and its MinHash
signature in the warehouse, and its LSH band buckets in Parquet shards beside it (bucket_index), so a new
submission is compared with everything before it by an equality join on the bucket, shard by shard on any engine,
without reprocessing the pool.

Laid out for the two costs that grow with the pool: every submission reads the bucket rows (two integers each: the
band number is mixed into the bucket key, and the text is named by its id, not its 32-character hash), and every
indexed text inserts a signature (stored as UINTEGER[256], which DuckDB inserts many times faster than a blob)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from onett_domain.credit import bucket_index, signature_files
from onett_domain.sql import Scratch, execute, literal_list, load
from onett_text import minhash
from onett_text.pipeline import index_frame

SQL = Path(__file__).with_name("sql")
Runner = bucket_index.Runner
# Candidate pairs verified at once: two 1 KiB signatures each; larger batches raise the peak memory, not the speed.
VERIFY_BATCH = 8_192
# Candidate texts up to which their signatures are fetched at once (128 MiB) rather than streamed by a join.
FETCH_TEXTS = 1 << 17
PAIRS_SCHEMA = pa.schema([("a", pa.int64()), ("b", pa.int64()), ("similarity", pa.float64())])


def index_texts(conn: duckdb.DuckDBPyConnection, hashes: list[str], texts: list[str]) -> int:
    """Adds signatures and band buckets for the texts not indexed yet; returns how many were added. Texts too short
    for MinHash are left to exact dedup."""
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
    sigs, eligible = minhash.signatures(list(todo.values()))
    index = index_frame([h for h, ok in zip(todo, eligible) if ok], sigs[eligible])
    conn.register("_index_in", index.with_row_index("row_key").to_arrow())
    try:
        return _add(conn)
    finally:
        conn.unregister("_index_in")


def add_signatures(conn: duckdb.DuckDBPyConnection, parquet_files: list[str]) -> int:
    """Adds the signatures computed by preprocessing (Parquet: content_hash, signature, bands) that are not indexed
    yet; DuckDB reads them straight from the files. Returns how many texts were added."""
    if not parquet_files:
        return 0
    parts = f"read_parquet({literal_list(parquet_files)}, filename = true, file_row_number = true)"
    (signature_type,), = conn.execute(f"SELECT typeof(signature) FROM {parts} LIMIT 1").fetchall() or [("",)]
    if signature_type == "BLOB":
        return _add_blob_parts(conn, parquet_files)
    with Scratch(conn) as scratch:
        scratch.view("_index_in", f"SELECT *, (filename, file_row_number) AS row_key FROM {parts}")
        return _add(conn)


def _add_blob_parts(conn: duckdb.DuckDBPyConnection, parquet_files: list[str]) -> int:
    """Parts written by versions that stored signatures as raw little-endian bytes: converted part by part."""
    added = 0
    for path in parquet_files:
        part = pq.read_table(path, columns=["content_hash", "signature", "bands"])
        part = part.set_column(1, "signature", signatures_from_blobs(part.column("signature")))
        conn.register("_index_in", part.append_column("row_key", pa.array(np.arange(part.num_rows))))
        try:
            added += _add(conn)
        finally:
            conn.unregister("_index_in")
    return added


def _add(conn: duckdb.DuckDBPyConnection) -> int:
    """`_index_in`: content_hash, signature, bands and a unique `row_key`. Streams its new texts into the index, so a
    large upload's signatures are never all held at once."""
    with Scratch(conn) as scratch:
        scratch.table("_index_new", load(SQL, "new_index_texts"))
        execute(conn, load(SQL, "index_new_texts"))
        bucket_index.append(conn, "SELECT unnest(s.bands) AS bucket, n.text_id FROM _index_in s JOIN _index_new n "
                                  "ON n.content_hash = s.content_hash AND n.row_key = s.row_key")
        (added,), = conn.execute("SELECT count(*) FROM _index_new").fetchall()
    return added


def find_near_pairs(conn: duckdb.DuckDBPyConnection, queries: str, run: Runner | None = None) -> int:
    """Finds and stores (both ways) every indexed text near one of the texts in table `queries` (column
    content_hash); returns the pairs found. Candidates are the texts sharing an LSH band bucket with them (looked up
    for a few texts, else an equality join, one job per bucket shard on `run`: bucket_index.candidates), verified
    in batches with their signatures: memory stays bounded however many candidates a large upload brings."""
    with Scratch(conn) as scratch:
        scratch.table("_queries", f"SELECT DISTINCT content_hash, content_hash::UUID AS hash_key FROM {queries}")
        execute(conn, load(SQL, "forget_near_pairs"))
        scratch.table("_query_ids", "SELECT text_id FROM minhash_texts SEMI JOIN _queries USING (hash_key)")
        shared = bucket_index.folder(conn)  # the jobs' files on the index's storage, which every engine node sees
        shared.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".candidates-", dir=shared) as work:
            scratch.table("_candidates", bucket_index.candidates(conn, "_query_ids", Path(work), run))
        batches = _candidate_batches(conn)
        # Pairs go to a Parquet file as they are verified (an upload of many near copies of one another finds tens
        # of millions), and into near_pairs once the stream is done: no other statement may run meanwhile.
        with tempfile.TemporaryDirectory(prefix="onett-near-pairs-") as folder:
            found, path = 0, f"{folder}/pairs.parquet"
            with pq.ParquetWriter(path, PAIRS_SCHEMA) as writer:
                for a, b, sa, sb in batches:
                    similarity = minhash.similarity(sa, sb)
                    keep = similarity >= minhash.THRESHOLD
                    if keep.any():
                        writer.write_table(pa.table({"a": a[keep], "b": b[keep], "similarity": similarity[keep]},
                                                    schema=PAIRS_SCHEMA))
                        found += int(keep.sum())
            scratch.drop_all()
            if found:
                execute(conn, load(SQL, "store_near_pairs"), {"path": path})
    return found


def _candidate_batches(conn: duckdb.DuckDBPyConnection) -> Iterator[tuple[np.ndarray, ...]]:
    """The pairs of `_candidates` with both signatures, VERIFY_BATCH at a time: for a few candidate texts (a
    submission into a pool) their signatures are fetched once from the signature files, each page of a text read
    alone; for many (a backfill) DuckDB streams the join, whose scan reads every block of the signatures anyway."""
    (pairs,), = conn.execute("SELECT count(*) FROM _candidates").fetchall()
    if pairs <= 16 * FETCH_TEXTS:  # (counting the texts of a backfill's millions of pairs would be a pass of its own)
        (texts,), = conn.execute("SELECT count(*) FROM (SELECT a FROM _candidates UNION SELECT b FROM _candidates)"
                                 ).fetchall()
    if pairs <= 16 * FETCH_TEXTS and texts <= FETCH_TEXTS:
        candidates = conn.sql("SELECT a, b FROM _candidates").to_arrow_table()
        a, b = candidates.column("a").to_numpy(), candidates.column("b").to_numpy()
        ids = np.unique(np.concatenate([a, b]))
        signatures = signature_files.fetch(conn, ids)
        for start in range(0, pairs, VERIFY_BATCH):
            batch_a, batch_b = a[start:start + VERIFY_BATCH], b[start:start + VERIFY_BATCH]
            yield (batch_a, batch_b, signatures[np.searchsorted(ids, batch_a)],
                   signatures[np.searchsorted(ids, batch_b)])
        return
    for batch in conn.sql(load(SQL, "candidate_signatures")).to_arrow_reader(VERIFY_BATCH):
        yield (batch.column("a").to_numpy(), batch.column("b").to_numpy(),
               signature_files.matrix(batch.column("sa")), signature_files.matrix(batch.column("sb")))


def signatures_from_blobs(blobs: pa.ChunkedArray | pa.Array) -> pa.FixedSizeListArray:
    """Signatures stored by earlier versions as raw little-endian uint32 bytes, as UINTEGER[256] values."""
    values = np.frombuffer(b"".join(blobs.to_pylist()), dtype="<u4").astype(np.uint32)
    return pa.FixedSizeListArray.from_arrays(pa.array(values), minhash.NUM_PERM)
