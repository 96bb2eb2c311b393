"""The persistent near-duplicate index in the warehouse: MinHash signatures and LSH band buckets per
distinct text, so a new submission is compared with everything before it (submissions and reference
alike) by an equality join on (band, bucket), without reprocessing the pool."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from onett_assets.preprocessing import near_dedup

SIGNATURE_DTYPE = np.dtype("<u4")  # datasketch's 32-bit permutations; stored as raw little-endian bytes
VERIFY_BATCH = 32_768  # candidate pairs verified at once: two 1 KiB signatures each


def _register_hashes(conn: duckdb.DuckDBPyConnection, name: str, hashes: list[str]) -> None:
    conn.register(name, pl.DataFrame({"content_hash": hashes}, schema={"content_hash": pl.String}).unique().to_arrow())


def index_texts(conn: duckdb.DuckDBPyConnection, hashes: list[str], texts: list[str]) -> int:
    """Adds signatures and band buckets for the texts not indexed yet; returns how many were added.
    Texts too short for MinHash are left to exact dedup."""
    _register_hashes(conn, "_candidates", hashes)
    known = {h for (h,) in conn.execute(
        "SELECT content_hash FROM minhash_signatures JOIN _candidates USING (content_hash)").fetchall()}
    conn.unregister("_candidates")
    todo: dict[str, str] = {}
    for h, t in zip(hashes, texts):
        if h not in known and h not in todo:
            todo[h] = t
    if not todo:
        return 0
    sigs, eligible = near_dedup.signatures(list(todo.values()))
    sigs = sigs[eligible].astype(SIGNATURE_DTYPE, casting="safe")
    index = pl.DataFrame(
        {
            "content_hash": [h for h, ok in zip(todo, eligible) if ok],
            "signature": [row.tobytes() for row in sigs],
            "bands": near_dedup.band_keys(sigs).astype(np.int64) if len(sigs) else np.zeros((0, near_dedup.BANDS), np.int64),
        },
        schema={"content_hash": pl.String, "signature": pl.Binary, "bands": pl.List(pl.Int64)},
    )
    conn.register("_index_in", index.to_arrow())
    try:
        return _add_to_index(conn, "_index_in")
    finally:
        conn.unregister("_index_in")


def index_signatures(conn: duckdb.DuckDBPyConnection, parquet_files: list[str]) -> int:
    """Adds the signatures computed by preprocessing (Parquet: content_hash, signature, bands) that are not
    indexed yet; DuckDB reads them straight from the files. Returns how many texts were added."""
    if not parquet_files:
        return 0
    conn.read_parquet(parquet_files).create_view("_index_in", replace=True)
    try:
        return _add_to_index(conn, "_index_in")
    finally:
        conn.execute("DROP VIEW _index_in")


def _add_to_index(conn: duckdb.DuckDBPyConnection, source: str) -> int:
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _index_new AS
        SELECT * FROM {source} ANTI JOIN minhash_signatures USING (content_hash)
        QUALIFY row_number() OVER (PARTITION BY content_hash) = 1
        """  # a hash anti-join: probing the primary key per row is ten times slower
    )
    conn.execute("INSERT INTO minhash_signatures SELECT content_hash, signature FROM _index_new")
    conn.execute(
        """INSERT INTO minhash_bands
           SELECT (generate_subscripts(bands, 1) - 1)::SMALLINT, unnest(bands), content_hash FROM _index_new"""
    )
    added = conn.execute("SELECT count(*) FROM _index_new").fetchone()[0]
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
        CREATE OR REPLACE TEMP TABLE _candidates AS
        SELECT DISTINCT least(a.content_hash, b.content_hash) AS a, greatest(a.content_hash, b.content_hash) AS b
        FROM minhash_bands a JOIN _queries q USING (content_hash)
        JOIN minhash_bands b ON a.band = b.band AND a.bucket = b.bucket AND a.content_hash <> b.content_hash
        """
    )
    reader = conn.sql(
        """SELECT c.a, c.b, sa.signature AS sa, sb.signature AS sb FROM _candidates c
           JOIN minhash_signatures sa ON sa.content_hash = c.a JOIN minhash_signatures sb ON sb.content_hash = c.b"""
    ).to_arrow_reader(VERIFY_BATCH)
    found = []
    for batch in reader:  # no other statement may run on the connection while it streams
        similarity = near_dedup.similarity(_matrix(batch.column("sa")), _matrix(batch.column("sb")))
        keep = similarity >= near_dedup.THRESHOLD
        if keep.any():
            mask = pa.array(keep)
            found.append(pa.table({"a": batch.column("a").filter(mask), "b": batch.column("b").filter(mask),
                                   "similarity": pa.array(similarity[keep], pa.float64())}))
    conn.execute("DROP TABLE _candidates; DROP TABLE _queries")
    if not found:
        return 0
    pairs = pa.concat_tables(found)
    conn.register("_found", pairs)
    try:
        conn.execute(
            """INSERT INTO near_pairs SELECT a, b, similarity FROM _found
               UNION ALL SELECT b, a, similarity FROM _found"""
        )
        return pairs.num_rows
    finally:
        conn.unregister("_found")


def _matrix(signatures: pa.Array) -> np.ndarray:
    """(n, NUM_PERM) uint32 signatures from an Arrow binary column, without copying row by row."""
    if isinstance(signatures, pa.ChunkedArray):
        signatures = signatures.combine_chunks()
    width = near_dedup.NUM_PERM * SIGNATURE_DTYPE.itemsize
    offset_type = np.int64 if pa.types.is_large_binary(signatures.type) else np.int32
    offsets = np.frombuffer(signatures.buffers()[1], offset_type)[signatures.offset: signatures.offset + len(signatures) + 1]
    if len(signatures) == 0:
        return np.zeros((0, near_dedup.NUM_PERM), SIGNATURE_DTYPE)
    if not (np.diff(offsets) == width).all():
        raise ValueError("a stored MinHash signature has the wrong size: the near-duplicate index is damaged")
    data = np.frombuffer(signatures.buffers()[2], np.uint8)[offsets[0]: offsets[-1]]
    return data.view(SIGNATURE_DTYPE).reshape(len(signatures), near_dedup.NUM_PERM)
