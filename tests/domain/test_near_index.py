"""The warehouse's near-duplicate index on real text: it finds the edited copies and nothing else, and finds
the same pairs however it was built (in one go or upload by upload), converted from the layout of earlier
versions, or fed preprocessing parts written by them."""

from __future__ import annotations

import random

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import distinct_texts, warehouse
from onett_domain.credit import bucket_index
from onett_domain.credit.near_index import add_signatures, find_near_pairs, index_texts
from onett_resources.warehouse import SCHEMA, prepare, upgrade_index
from onett_text import minhash as near_dedup
from onett_text.hashing import content_hash
from onett_text.pipeline import index_frame


def _edited(text: str, rng: random.Random) -> str:
    """About 5% of the words replaced: a near copy (Jaccard of 6-grams well above the threshold)."""
    words = text.split(" ")
    for i in rng.sample(range(len(words)), max(1, len(words) // 20)):
        words[i] = "수정된단어"
    return " ".join(words)


@pytest.fixture(scope="module")
def texts() -> tuple[list[str], list[str], set[frozenset]]:
    """300 petitions that are not near copies of each other, 30 edited copies of them; (hashes, texts, expected
    pairs)."""
    docs = distinct_texts("ko_petitions", "petitions.jsonl.gz", 300, limit=1500)
    rng = random.Random(5)
    copies = [_edited(docs[i], rng) for i in range(0, 300, 10)]
    all_texts = docs + copies
    hashes = content_hash(pl.Series(all_texts)).to_list()
    expected = {frozenset((hashes[i], hashes[300 + k])) for k, i in enumerate(range(0, 300, 10))}
    return hashes, all_texts, expected


def _pairs(conn: duckdb.DuckDBPyConnection, hashes: list[str]) -> set[tuple[str, str, float]]:
    conn.execute("CREATE OR REPLACE TEMP TABLE _all (content_hash VARCHAR)")
    conn.executemany("INSERT INTO _all VALUES (?)", [[h] for h in sorted(set(hashes))])
    find_near_pairs(conn, "_all")
    return set(conn.execute("SELECT content_hash, other_hash, similarity FROM near_pairs").fetchall())


def test_index_finds_the_edited_copies_the_same_way_in_one_go_or_upload_by_upload(texts, tmp_path):
    hashes, all_texts, expected = texts
    whole, pieces = warehouse(tmp_path / "whole.duckdb"), warehouse(tmp_path / "pieces.duckdb")
    assert index_texts(whole, hashes, all_texts) == len(set(hashes))
    added = [index_texts(pieces, hashes[a:b], all_texts[a:b]) for a, b in ((0, 100), (50, 250), (250, 330))]
    assert sum(added) == len(set(hashes))  # texts indexed before are not added again
    assert index_texts(pieces, hashes, all_texts) == 0

    found = _pairs(whole, hashes)
    assert found == _pairs(pieces, hashes)
    assert {frozenset((a, b)) for a, b, _ in found} == expected  # every copy, and nothing unrelated
    assert all(s >= near_dedup.THRESHOLD for *_, s in found)
    ids, = whole.execute("SELECT count(DISTINCT text_id) = count(*) AND count(DISTINCT content_hash) = count(*) "
                         "FROM minhash_texts").fetchall()
    assert ids == (True,)
    assert bucket_index.rows(whole).count("*").fetchall() == [(len(set(hashes)) * near_dedup.BANDS,)]


def test_an_index_in_the_layout_of_earlier_versions_is_converted(texts, tmp_path):
    hashes, all_texts, expected = texts
    sigs, eligible = near_dedup.signatures(all_texts)
    assert eligible.all()
    old = duckdb.connect(str(tmp_path / "old.duckdb"))
    old.execute("""CREATE TABLE minhash_signatures (content_hash VARCHAR PRIMARY KEY, signature BLOB NOT NULL);
                   CREATE TABLE minhash_bands (band SMALLINT NOT NULL, bucket BIGINT NOT NULL,
                                               content_hash VARCHAR NOT NULL)""")
    keys = near_dedup.band_keys(sigs)
    old.executemany("INSERT INTO minhash_signatures VALUES (?, ?)",
                    [[h, s.astype("<u4").tobytes()] for h, s in zip(hashes, sigs)])
    old.executemany("INSERT INTO minhash_bands VALUES (?, ?, ?)",
                    [[j, int(keys[i, j]), h] for i, h in enumerate(hashes) for j in range(near_dedup.BANDS)])
    old.execute(SCHEMA)
    upgrade_index(old, batch=70)  # several batches
    prepare(old)  # as every warehouse connection does: the bucket shards rebuilt from the converted signatures

    tables = {t for (t,) in old.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert not tables & {"minhash_signatures", "minhash_bands"}
    stored = dict(old.execute("SELECT content_hash, signature FROM minhash_texts").fetchall())
    assert all(list(stored[h]) == s.tolist() for h, s in zip(hashes, sigs))
    fresh = warehouse(tmp_path / "fresh.duckdb")
    index_texts(fresh, hashes, all_texts)
    assert _pairs(old, hashes) == _pairs(fresh, hashes)
    assert {frozenset((a, b)) for a, b, _ in _pairs(old, hashes)} == expected
    upgrade_index(old)  # nothing left to do


def test_preprocessing_parts_of_earlier_versions_are_indexed_alike(texts, tmp_path):
    hashes, all_texts, _ = texts
    sigs, _ = near_dedup.signatures(all_texts)
    current = index_frame(hashes, sigs)
    current.slice(0, 200).write_parquet(tmp_path / "new-0.parquet")
    current.slice(200).write_parquet(tmp_path / "new-1.parquet")
    legacy = pa.table({"content_hash": hashes, "signature": pa.array([s.astype("<u4").tobytes() for s in sigs]),
                       "bands": pa.array([list(k) for k in near_dedup.band_keys(sigs)], pa.list_(pa.int64()))})
    pq.write_table(legacy, tmp_path / "old-0.parquet")

    new, old = warehouse(tmp_path / "new.duckdb"), warehouse(tmp_path / "old.duckdb")
    assert add_signatures(new, [str(tmp_path / "new-0.parquet"), str(tmp_path / "new-1.parquet")]) == len(set(hashes))
    assert add_signatures(old, [str(tmp_path / "old-0.parquet")]) == len(set(hashes))
    def indexed(conn):
        bucket_index.rows(conn).create_view("_buckets")
        return conn.execute("SELECT t.content_hash, t.signature, list_sort(list(b.bucket)) FROM minhash_texts t "
                            "JOIN _buckets b USING (text_id) GROUP BY ALL ORDER BY 1").fetchall()

    assert indexed(new) == indexed(old)
    assert np.array_equal(np.array([r[1] for r in indexed(new)], dtype=np.uint32), sigs[np.argsort(hashes)])


def test_warehouse_connections_never_merge_row_groups_at_checkpoints(tmp_path):
    """DuckDB's checkpoint vacuum rewrote the whole signature table every few submissions (a commit that grew with
    the pool): the warehouse's writing connections switch it off."""
    from onett_resources.warehouse import Warehouse

    with Warehouse(database=str(tmp_path / "w.duckdb")).connection() as conn:
        assert conn.execute("SELECT current_setting('max_vacuum_tasks')").fetchall() == [(0,)]
