"""The signature files on real text: every fetch answers exactly what `minhash_texts` holds, whether a text is in a
file, indexed since the last update, or its file was lost; the files stay few as updates pile up; an erased text
leaves them; and near pairs verified through them equal those verified by the warehouse's join."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest

from conftest import edited_petitions, warehouse
from onett_domain.credit import near_index, signature_files
from onett_domain.credit.near_index import find_near_pairs, index_texts
from onett_resources.warehouse import transaction
from onett_text.hashing import content_hash


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """1,500 petitions (with the corpus's own reposts) and edited copies (one word in 25) of 80 long ones."""
    return edited_petitions(1500, 80, seed=5, word="고친말", at=7)


def _add(conn: duckdb.DuckDBPyConnection, texts: list[str]) -> list[str]:
    hashes = content_hash(pl.Series(texts)).to_list()
    with transaction(conn):
        index_texts(conn, hashes, texts)
    return hashes


def _stored(conn: duckdb.DuckDBPyConnection) -> tuple[np.ndarray, np.ndarray]:
    table = conn.sql("SELECT text_id, signature FROM minhash_texts ORDER BY text_id").to_arrow_table()
    return table.column("text_id").to_numpy(), signature_files.matrix(table.column("signature"))


def _update(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    with transaction(conn):
        done = signature_files.update(conn)
    signature_files.sweep(conn)
    return done


def _file_ids(conn: duckdb.DuckDBPyConnection) -> np.ndarray:
    """Every text id the listed files hold, read from disk."""
    base = signature_files.bucket_index.folder(conn)
    parts = [np.load(base / (f + signature_files.IDS)) for (f,) in
             conn.execute("SELECT file FROM signature_files ORDER BY first_id").fetchall()]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def test_fetch_answers_what_the_index_holds(tmp_path, texts, monkeypatch):
    monkeypatch.setattr(signature_files, "BASE_ROWS", 64)  # small sizes, so that updates merge
    monkeypatch.setattr(signature_files, "CAP_ROWS", 1024)
    conn = warehouse(tmp_path / "w.duckdb")
    for start in range(0, 1200, 100):  # twelve submissions, an update after each
        _add(conn, texts[start:start + 100])
        done = _update(conn)
        assert done["signatures written"] > 0
    ids, signatures = _stored(conn)
    assert np.array_equal(_file_ids(conn), ids)  # every text copied once, in id order
    (files, merged_rows), = conn.execute("SELECT count(*), max(rows) FROM signature_files").fetchall()
    assert files <= 8 and merged_rows <= 1024  # merged by size, never above the cap
    on_disk = {p.name for p in (signature_files.bucket_index.folder(conn) / "signatures").iterdir()}
    assert len(on_disk) == 2 * files  # the merged files are gone

    _add(conn, texts[1200:])  # indexed after the last update: read from the warehouse
    ids, signatures = _stored(conn)
    rng = np.random.default_rng(3)
    asked = np.sort(rng.choice(ids, 400, replace=False))
    asked = np.union1d(asked, ids[-50:])
    assert np.array_equal(signature_files.fetch(conn, asked), signatures[np.searchsorted(ids, asked)])

    first, = conn.execute("SELECT file FROM signature_files ORDER BY first_id LIMIT 1").fetchall()[0]
    (signature_files.bucket_index.folder(conn) / (first + signature_files.SIGNATURES)).unlink()  # a file lost
    assert np.array_equal(signature_files.fetch(conn, ids), signatures)
    _update(conn)
    assert np.array_equal(_file_ids(conn), ids)  # written again, and the new texts too
    assert np.array_equal(signature_files.fetch(conn, ids), signatures)

    with pytest.raises(LookupError, match="not in the near-duplicate index"):
        signature_files.fetch(conn, np.array([ids[-1] + 1]))


def test_erased_texts_leave_the_files(tmp_path, texts):
    conn = warehouse(tmp_path / "w.duckdb")
    _add(conn, texts[:600])
    _update(conn)
    ids, signatures = _stored(conn)
    gone = ids[::7]
    conn.register("_gone", pl.DataFrame({"text_id": gone}).to_arrow())
    with transaction(conn):
        assert signature_files.forget(conn, "_gone") >= 1
        conn.execute("DELETE FROM minhash_texts WHERE text_id IN (SELECT text_id FROM _gone)").fetchall()
    assert signature_files.sweep(conn) >= 1
    kept = np.setdiff1d(ids, gone)
    assert np.array_equal(_file_ids(conn), kept)
    base = signature_files.bucket_index.folder(conn) / "signatures"
    held = np.concatenate([np.load(p) for p in sorted(base.glob(f"*{signature_files.SIGNATURES}"))])
    assert not (held[:, None, :] == signatures[np.isin(ids, gone)][None, :, :]).all(axis=2).any()  # no copy left
    assert np.array_equal(signature_files.fetch(conn, kept), signatures[np.isin(ids, kept)])


def test_near_pairs_equal_through_the_files(tmp_path, texts):
    """The pairs a submission finds are the same whether its candidates' signatures come from the files or from
    the warehouse's join (the path a backfill takes)."""
    found = {}
    for how in ("files", "join"):
        conn = warehouse(tmp_path / f"{how}.duckdb")
        _add(conn, texts[:1500])
        _update(conn)
        later = _add(conn, texts[1500:])  # the edited copies, as a later submission
        conn.register("_later", pl.DataFrame({"content_hash": later}).to_arrow())
        fetched = []
        original = signature_files.fetch
        if how == "join":
            limit = near_index.FETCH_TEXTS
            near_index.FETCH_TEXTS = 0
        else:
            signature_files.fetch = lambda c, ids: fetched.append(len(ids)) or original(c, ids)
        try:
            with transaction(conn):
                find_near_pairs(conn, "_later")
        finally:
            signature_files.fetch = original
            if how == "join":
                near_index.FETCH_TEXTS = limit
        assert (how == "files") == bool(fetched)  # the path meant ran
        found[how] = set(conn.execute("SELECT content_hash, other_hash, similarity FROM near_pairs").fetchall())
    assert len(found["files"]) >= 2 * 60  # most edited copies find their original (both ways)
    assert found["files"] == found["join"]


def test_the_copy_reads_within_a_small_memory_limit_and_gives_the_connections_back(tmp_path, texts, monkeypatch):
    """The copy reads the signature table through: under the warehouse's own limit DuckDB would keep up to all of
    it cached beside compaction's sorts. The connection's limit is back after the copy, and after a failed one."""
    conn = warehouse(tmp_path / "w.duckdb")
    conn.execute("SET memory_limit = '1GB'")
    limit = "SELECT current_setting('memory_limit')"
    (own,), = conn.execute(limit).fetchall()
    probe = duckdb.connect()
    probe.execute(f"SET memory_limit = '{signature_files.COPY_MEMORY}'")
    (small,), = probe.execute(limit).fetchall()
    assert small != own
    seen, write_range = [], signature_files._write_range

    def watched(conn, where):
        seen.append(conn.execute(limit).fetchall()[0][0])
        return write_range(conn, where)

    monkeypatch.setattr(signature_files, "_write_range", watched)
    _add(conn, texts[:200])
    (indexed,), = conn.execute("SELECT count(*) FROM minhash_texts").fetchall()
    assert _update(conn)["signatures written"] == indexed > 0
    assert seen and set(seen) == {small}

    def restored() -> bool:  # DuckDB prints (and so gives back) a size to a tenth of its unit
        (now,), = conn.execute(limit).fetchall()
        return now.split()[1] == own.split()[1] and round(abs(float(now.split()[0]) - float(own.split()[0])), 1) <= 0.1

    assert restored()

    def failing(conn, where):
        raise OSError("disk full")

    monkeypatch.setattr(signature_files, "_write_range", failing)
    _add(conn, texts[200:300])
    with pytest.raises(OSError, match="disk full"):
        _update(conn)
    assert restored()
