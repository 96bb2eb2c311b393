"""The reference corpus: text the consumer already has or that is public. An upload whose text equals or nearly
equals a reference document earns nothing; its reason names the reference document."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

import duckdb
import polars as pl

import onett_domain.credit.near_index as near_index
import onett_domain.credit.passage_index as passage_index
from onett_domain.sql import insert_frame
from onett_text.hashing import content_hash
from onett_text.normalize import normalize_text
from onett_text.pii import mask_pii


def reference_documents(records: list[tuple[str, int, str]], count_tokens: Callable[[list[str]], list[int]]
                        ) -> pl.DataFrame:
    """(file, position, text) records -> reference_id, text, content_hash, tokens: normalized and masked exactly like
    uploads, so a copy matches whatever personal data it held."""
    frame = pl.DataFrame(
        {"reference_id": [f if p == 0 else f"{f}#{p}" for f, p, _ in records], "text": [t for _, _, t in records]},
        schema={"reference_id": pl.String, "text": pl.String},
    ).with_columns(text=normalize_text(pl.col("text")))
    frame = mask_pii(frame).filter(pl.col("text") != "")
    return frame.with_columns(content_hash=content_hash(frame["text"]),
                              tokens=pl.Series(count_tokens(frame["text"].to_list()), dtype=pl.Int64))


def store_reference(conn: duckdb.DuckDBPyConnection, frame: pl.DataFrame, fingerprint: str, now: datetime,
                    encoding: str) -> int:
    """Replaces the reference corpus and adds its texts to the near-duplicate index and the passage index (cut with
    the consumer's `encoding`); returns how many were added to the near-duplicate index. Call inside a
    transaction."""
    conn.execute("DELETE FROM reference_documents; DELETE FROM reference_state")
    insert_frame(conn, "reference_documents", frame.select("reference_id", "content_hash", "tokens"))
    indexed = near_index.index_texts(conn, frame["content_hash"].to_list(), frame["text"].to_list())
    passage_index.index_texts(conn, frame["content_hash"].to_list(), frame["text"].to_list(), encoding)
    conn.execute("INSERT INTO reference_state VALUES (?, ?, ?)", [fingerprint, frame.height, now])
    return indexed


def reference_fingerprint(conn: duckdb.DuckDBPyConnection) -> str:
    """The fingerprint of the reference corpus the warehouse holds ('' before it was first read)."""
    row = conn.execute("SELECT fingerprint FROM reference_state").fetchone()
    return row[0] if row else ""
