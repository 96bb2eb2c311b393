"""The near-duplicate index's signatures, also kept as memory-mapped arrays by text id beside the bucket shards, so
verifying a submission's candidate pairs reads the pages of the texts it names, not the signature table.

DuckDB stores `minhash_texts.signature` in 256 KiB blocks of 256 signatures and reads a block whole for any of its
rows: a submission's few thousand candidates, spread over the pool, touch nearly every block, so verifying them cost
what the pool holds (docs/throughput.md). Here a file holds the signatures of a range of text ids, (rows, 256)
uint32, with its ids sorted beside it: a lookup is a binary search and one 1 KiB row each.

The arrays are a copy, derived from `minhash_texts`, which stays the index: `update` (after the submissions, in the
near_duplicate_index asset) writes the texts indexed since, merging the newest files four of one size at a time
up to CAP_ROWS; `fetch` answers from the files it finds and reads the rest (texts indexed since the last update, a
file lost) from the warehouse, so a missing or late file costs time, never a wrong answer. Files are named by the
table `signature_files` like the bucket shards (bucket_index): listed in the transaction that wrote them, removed
by `sweep` once nothing names them; erasure rewrites the files holding an erased text without it (`forget`)."""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from onett_domain.credit import bucket_index
from onett_domain.sql import settings
from onett_text import minhash

SUBFOLDER = "signatures"
FANOUT = 4  # trailing files of one size merged into one
BASE_ROWS = 1 << 12  # files up to this many rows are of the smallest size
CAP_ROWS = 1 << 16  # rows per file at most (64 MiB of signatures): what a write, a merge or an erasure holds
READ_BATCH = 1 << 14  # signatures read from the warehouse at once (16 MiB)
# DuckDB's memory while the new texts' signatures are copied: the copy reads the signature table through, a batch at
# a time, and DuckDB would keep the blocks read cached up to its whole limit, beside compaction's sorts.
COPY_MEMORY = "256MB"
FETCH_THREADS = 8  # files read at once by `fetch`: their page faults overlap when the files are on disk
IDS, SIGNATURES = ".ids.npy", ".sig.npy"


def update(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Writes the signatures of the texts indexed since the last update (and of any listed file lost from disk), then
    merges the newest files of one size. Run inside a transaction; the replaced files leave with `sweep` after it
    commits. Returns the signatures written and the files merged."""
    done = {"signatures written": 0, "files merged": 0}
    listed = conn.execute("SELECT file, first_id, last_id FROM signature_files ORDER BY first_id").fetchall()
    base = bucket_index.folder(conn)
    with settings(conn, memory_limit=COPY_MEMORY):
        for file, first, last in listed:
            if _open(base / file) is None:
                done["signatures written"] += _write_range(conn, f"text_id BETWEEN {int(first)} AND {int(last)}")
                _unlist(conn, [file])  # after the write: its name is above this one
        (covered,), = conn.execute("SELECT coalesce(max(last_id), 0) FROM signature_files").fetchall()
        done["signatures written"] += _write_range(conn, f"text_id > {int(covered)}")
    while merged := _trailing_tier(conn):
        _merge(conn, merged)
        done["files merged"] += len(merged)
    return done


def fetch(conn: duckdb.DuckDBPyConnection, ids: np.ndarray) -> np.ndarray:
    """The (len(ids), NUM_PERM) signatures of the texts `ids` (sorted, distinct, all indexed), from the files where
    they are, else from the warehouse (in the caller's transaction: texts it added are there)."""
    out = np.empty((len(ids), minhash.NUM_PERM), dtype=np.uint32)
    found = np.zeros(len(ids), dtype=bool)
    listed = conn.execute("SELECT file, first_id, last_id FROM signature_files ORDER BY first_id").fetchall()
    if listed and len(ids):
        base = bucket_index.folder(conn)
        firsts = np.array([first for _, first, _ in listed], dtype=np.int64)
        owner = np.searchsorted(firsts, ids, "right") - 1
        jobs = []
        for f in np.unique(owner[owner >= 0]):
            file, _, last = listed[f]
            rows = np.flatnonzero((owner == f) & (ids <= last))
            if len(rows):
                jobs.append((base / file, ids[rows], rows))
        with ThreadPoolExecutor(FETCH_THREADS) as pool:
            for rows, signatures in pool.map(lambda job: _gather(*job), jobs):
                out[rows] = signatures
                found[rows] = True
    missing = np.flatnonzero(~found)
    for start in range(0, len(missing), READ_BATCH):
        rows = missing[start:start + READ_BATCH]
        conn.register("_signature_ids", pa.table({"text_id": ids[rows]}))
        try:  # read whole before the next statement: the connection holds one open result at a time
            batch = conn.sql("SELECT text_id, signature FROM minhash_texts SEMI JOIN _signature_ids USING (text_id) "
                             "ORDER BY text_id").to_arrow_table()
        finally:
            conn.unregister("_signature_ids")
        if batch.num_rows != len(rows):
            raise LookupError(f"{len(rows) - batch.num_rows} of the texts asked for are not in the near-duplicate "
                              "index")
        out[rows] = matrix(batch.column("signature"))
    return out


def _gather(stem: Path, wanted: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Of the texts `wanted` (sorted), those the file holds: their `rows` and their signatures, read from it."""
    stored = _open(stem)
    if stored is None or not len(stored[0]):
        return rows[:0], np.empty((0, minhash.NUM_PERM), dtype=np.uint32)
    stored_ids, signatures = stored
    at = np.minimum(np.searchsorted(stored_ids, wanted), len(stored_ids) - 1)
    hit = stored_ids[at] == wanted
    return rows[hit], np.asarray(signatures[at[hit]])


def forget(conn: duckdb.DuckDBPyConnection, text_ids: str) -> int:
    """Rewrites the files holding a text of table `text_ids` (column text_id) without it; the old files leave with
    `sweep` once the transaction has committed. Returns the files rewritten."""
    forgotten = np.sort(conn.sql(f"SELECT text_id FROM {text_ids}").to_arrow_table().column(0).to_numpy())
    base, rewritten = bucket_index.folder(conn), 0
    for file, first, last in conn.execute(
            "SELECT file, first_id, last_id FROM signature_files ORDER BY first_id").fetchall():
        inside = forgotten[(forgotten >= first) & (forgotten <= last)]
        if not len(inside):
            continue
        stored = _open(base / file)
        if stored is not None:  # (a lost file has nothing to erase: its texts are read from the warehouse)
            keep = np.flatnonzero(~np.isin(stored[0], inside))
            if len(keep):
                _write(conn, np.asarray(stored[0][keep]), np.asarray(stored[1][keep]), first, last)
        _unlist(conn, [file])  # after the write: its name is above this one
        rewritten += 1
    return rewritten


def check(conn: duckdb.DuckDBPyConnection) -> tuple[int, list[str]]:
    """Compares every listed file on disk with `minhash_texts` (a text it holds must be there with the same
    signature); returns the files checked and the problems found. A listed file missing is none: the next update
    writes it again."""
    base, checked, problems = bucket_index.folder(conn), 0, []
    for file, first, last in conn.execute(
            "SELECT file, first_id, last_id FROM signature_files ORDER BY first_id").fetchall():
        try:
            stored = _open(base / file)
            if stored is None:
                continue
            ids, signatures = np.asarray(stored[0]), np.asarray(stored[1])
        except (ValueError, OSError) as exc:
            problems.append(f"signature file {base / file}: unreadable ({exc})")
            continue
        checked += 1
        table = conn.sql(f"SELECT text_id, signature FROM minhash_texts WHERE text_id BETWEEN {int(first)} AND "
                         f"{int(last)} ORDER BY text_id").to_arrow_table()
        known = table.column("text_id").to_numpy()
        differs = np.ones(len(ids), dtype=bool)
        if len(known):
            at = np.minimum(np.searchsorted(known, ids), len(known) - 1)
            present = known[at] == ids
            differs[present] = (matrix(table.column("signature"))[at[present]] != signatures[present]).any(axis=1)
        if differs.any():
            problems.append(f"signature file {base / file}: {int(differs.sum())} of its {len(ids)} texts differ from "
                            "the warehouse (delete it: the next index update writes it again)")
    return checked, problems


def sweep(conn: duckdb.DuckDBPyConnection) -> int:
    """Removes the files the committed state no longer names (merged, rewritten, or left by a failed run), as
    bucket_index.sweep does for the shards; returns how many."""
    base = _base(conn)
    if not base.exists():
        return 0
    (newest,), = conn.execute("SELECT coalesce(max(generation), 0) FROM signature_files").fetchall()
    named = {f for (f,) in conn.execute("SELECT file FROM signature_files").fetchall()}
    removed = 0
    for path in base.glob(f"*{IDS}"):
        stem = path.name[:-len(IDS)]
        generation = stem.split("-", 1)[0]
        if f"{SUBFOLDER}/{stem}" not in named and generation.isdigit() and int(generation) <= newest:
            path.unlink(missing_ok=True)
            path.with_name(stem + SIGNATURES).unlink(missing_ok=True)
            removed += 1
    for path in base.glob("*.partial"):  # one a writer was killed writing (there is one writer at a time)
        path.unlink(missing_ok=True)
    return removed


def _base(conn: duckdb.DuckDBPyConnection) -> Path:
    return bucket_index.folder(conn) / SUBFOLDER


def _open(stem: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """A file's ids and signatures, memory-mapped; None if it is not (or no longer) on disk."""
    try:
        return (np.load(stem.with_name(stem.name + IDS), mmap_mode="r"),
                np.load(stem.with_name(stem.name + SIGNATURES), mmap_mode="r"))
    except FileNotFoundError:
        return None


def _write_range(conn: duckdb.DuckDBPyConnection, where: str) -> int:
    """Files for the signatures of the texts `where` selects, CAP_ROWS a file; returns how many rows."""
    (low, high, count), = conn.execute(
        f"SELECT min(text_id), max(text_id), count(*) FROM minhash_texts WHERE {where}").fetchall()
    if not count:
        return 0
    ids_parts, sig_parts, held = [], [], 0
    for start in range(int(low), int(high) + 1, READ_BATCH):
        batch = conn.sql(f"SELECT text_id, signature FROM minhash_texts WHERE ({where}) AND text_id BETWEEN "
                         f"{start} AND {start + READ_BATCH - 1} ORDER BY text_id").to_arrow_table()
        if batch.num_rows:
            ids_parts.append(batch.column("text_id").to_numpy())
            sig_parts.append(matrix(batch.column("signature")))
            held += batch.num_rows
        if ids_parts and (held >= CAP_ROWS or start + READ_BATCH > high):
            ids, sigs = np.concatenate(ids_parts), np.concatenate(sig_parts)
            for at in range(0, len(ids), CAP_ROWS):
                part_ids = ids[at:at + CAP_ROWS]
                _write(conn, part_ids, sigs[at:at + CAP_ROWS], int(part_ids[0]), int(part_ids[-1]))
            ids_parts, sig_parts, held = [], [], 0
    return int(count)


def _write(conn: duckdb.DuckDBPyConnection, ids: np.ndarray, signatures: np.ndarray, first: int, last: int) -> None:
    """One file of the texts `ids` (covering text ids `first` to `last`), listed under a name above every listed
    one."""
    base = _base(conn)
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    (generation,), = conn.execute("SELECT coalesce(max(generation), 0) + 1 FROM signature_files").fetchall()
    stem = f"{generation:010d}-{first}"
    arrays = ((IDS, ids.astype(np.int64, copy=False)), (SIGNATURES, signatures.astype(np.uint32, copy=False)))
    for suffix, array in arrays:
        partial = base / f"{stem}{suffix}.{os.getpid()}.partial"
        with open(partial, "wb") as handle:
            np.save(handle, array)
        os.replace(partial, base / f"{stem}{suffix}")
    conn.execute("INSERT INTO signature_files VALUES (?, ?, ?, ?, ?)",
                 [f"{SUBFOLDER}/{stem}", first, last, len(ids), generation]).fetchall()


def _tier(rows: int) -> int:
    return 0 if rows <= BASE_ROWS else int(math.log(rows / BASE_ROWS, FANOUT)) + 1


def _trailing_tier(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, int, int]]:
    """The newest FANOUT files when they are of one size and merging them stays within CAP_ROWS (else none)."""
    newest = conn.execute("SELECT file, first_id, last_id, rows FROM signature_files ORDER BY first_id DESC LIMIT ?",
                          [FANOUT]).fetchall()
    if len(newest) < FANOUT or len({_tier(n) for *_, n in newest}) > 1 or sum(n for *_, n in newest) > CAP_ROWS:
        return []
    return [(file, first, last) for file, first, last, _ in reversed(newest)]


def _merge(conn: duckdb.DuckDBPyConnection, files: list[tuple[str, int, int]]) -> None:
    base, ids, sigs = bucket_index.folder(conn), [], []
    for file, first, last in files:
        stored = _open(base / file)
        if stored is None:  # lost meanwhile: its range is read again from the warehouse
            batch = conn.sql(f"SELECT text_id, signature FROM minhash_texts WHERE text_id BETWEEN {int(first)} "
                             f"AND {int(last)} ORDER BY text_id").to_arrow_table()
            stored = (batch.column("text_id").to_numpy(), matrix(batch.column("signature")))
        ids.append(np.asarray(stored[0]))
        sigs.append(np.asarray(stored[1]))
    _write(conn, np.concatenate(ids), np.concatenate(sigs), files[0][1], files[-1][2])
    _unlist(conn, [file for file, _, _ in files])  # after the write: its name is above theirs


def _unlist(conn: duckdb.DuckDBPyConnection, names: list[str]) -> None:
    conn.execute(f"DELETE FROM signature_files WHERE file IN ({', '.join('?' * len(names))})", names).fetchall()


def matrix(signatures: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """(n, NUM_PERM) uint32 signatures from an Arrow column of fixed-size lists, without copying row by row."""
    if isinstance(signatures, pa.ChunkedArray):
        signatures = signatures.combine_chunks()
    return np.asarray(signatures.flatten()).reshape(len(signatures), minhash.NUM_PERM)
