"""The persistent passage index in the warehouse: per distinct text (uploads and reference alike) a text id and its
passage keys with their tokens, so passage-level credit compares a new submission with every passage contributed
before it by an equality join on the key. Only keys and counts are stored (about 20 bytes per passage of some 130
tokens); the text itself stays in the document store."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from onett_domain.sql import Scratch, execute, literal_list, load
from onett_text import passages

SQL = Path(__file__).with_name("sql")


def add_passages(conn: duckdb.DuckDBPyConnection, parquet_files: list[str]) -> int:
    """Adds the passages cut by preprocessing (Parquet: content_hash, passages, passage_tokens) of the texts not
    indexed yet; DuckDB reads them straight from the files. Returns how many texts were added."""
    if not parquet_files:
        return 0
    files = literal_list(parquet_files)
    with Scratch(conn) as scratch:
        scratch.view("_passages_in", "SELECT content_hash, passages, passage_tokens, (filename, file_row_number) AS "
                                     f"row_key FROM read_parquet({files}, filename = true, file_row_number = true)")
        return _add(conn, scratch)


def index_texts(conn: duckdb.DuckDBPyConnection, hashes: list[str], texts: list[str], encoding: str) -> int:
    """Cuts and adds the texts not indexed yet (the reference corpus, read in this process); returns how many."""
    keys, tokens = [], []
    for text in texts:
        k, t = passages.passages(text, passages.encode(text, encoding), encoding)
        keys.append(k)
        tokens.append(t)
    frame = pl.DataFrame({"content_hash": hashes, "passages": keys, "passage_tokens": tokens},
                         schema={"content_hash": pl.String, "passages": pl.List(pl.UInt64),
                                 "passage_tokens": pl.List(pl.UInt32)})
    with Scratch(conn) as scratch:
        scratch.frame("_passages_in", frame.with_row_index("row_key"))
        return _add(conn, scratch)


def _add(conn: duckdb.DuckDBPyConnection, scratch: Scratch) -> int:
    """`_passages_in`: content_hash, passages, passage_tokens and a unique `row_key`."""
    scratch.table("_passages_new", load(SQL, "new_passage_texts"))
    execute(conn, load(SQL, "index_new_passages"))
    (added,), = conn.execute("SELECT count(*) FROM _passages_new").fetchall()
    return added
