"""The persistent near-duplicate index in the warehouse: MinHash signatures and LSH band buckets per
distinct text, so a new submission is compared with everything before it (submissions and reference
alike) by an equality join on (band, bucket), without reprocessing the pool."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl

from onett_assets.preprocessing import near_dedup
from onett_resources.warehouse import insert_frame

SIGNATURE_DTYPE = np.dtype(np.uint32)  # datasketch's 32-bit permutations; stored as raw bytes


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


def find_near_pairs(conn: duckdb.DuckDBPyConnection, hashes: list[str]) -> int:
    """Finds and stores (both ways) every indexed text near one of `hashes`; returns the pairs found."""
    _register_hashes(conn, "_queries", hashes)
    candidates = conn.execute(
        """
        SELECT DISTINCT a.content_hash, b.content_hash
        FROM minhash_bands a JOIN _queries q USING (content_hash)
        JOIN minhash_bands b ON a.band = b.band AND a.bucket = b.bucket AND a.content_hash <> b.content_hash
        ORDER BY ALL
        """
    ).fetchall()
    conn.execute(
        """DELETE FROM near_pairs WHERE content_hash IN (SELECT content_hash FROM _queries)
                                  OR other_hash IN (SELECT content_hash FROM _queries)"""
    )
    conn.unregister("_queries")
    if not candidates:
        return 0
    involved = sorted({h for pair in candidates for h in pair})
    _register_hashes(conn, "_involved", involved)
    rows = conn.execute(
        "SELECT content_hash, signature FROM minhash_signatures JOIN _involved USING (content_hash)"
    ).fetchall()
    conn.unregister("_involved")
    position = {h: i for i, (h, _) in enumerate(rows)}
    matrix = np.stack([np.frombuffer(sig, dtype=SIGNATURE_DTYPE) for _, sig in rows])
    left = matrix[[position[a] for a, _ in candidates]]
    right = matrix[[position[b] for _, b in candidates]]
    similarity = near_dedup.similarity(left, right)
    keep = similarity >= near_dedup.THRESHOLD
    found = [(a, b, float(s)) for (a, b), s, k in zip(candidates, similarity, keep) if k]
    pairs = pl.DataFrame(
        found + [(b, a, s) for a, b, s in found],
        schema={"content_hash": pl.String, "other_hash": pl.String, "similarity": pl.Float64},
        orient="row",
    ).unique()
    insert_frame(conn, "near_pairs", pairs)
    return len(found)
