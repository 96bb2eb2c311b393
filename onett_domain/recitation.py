"""The recitation guard's records: which texts the guard holds (every text earning for a contributor now, with the
documents holding it), and the recitations found in the consumer's output logs, per day, per contributor.

The 1T Club promises that partners' text is used for pre-training only and cannot be extracted: the guard finds
every span of a model output that contributed text holds verbatim, and these records make that promise a number
each partner can see ("your text was recited N times this month")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl

from onett_domain import sql
from onett_domain.sql import insert_frame

SQL = Path(__file__).with_name("sql")

INCIDENT_SCHEMA = {"day": pl.Date, "output_at": pl.Datetime("us", "UTC"), "request_id": pl.String,
                   "source": pl.String, "span_start": pl.Int32, "span_end": pl.Int32, "tokens": pl.Int32,
                   "contributor_id": pl.String, "document_id": pl.String, "file": pl.String, "position": pl.Int64}


def holders(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """content_hash, contributor_id, period, file, position, doc_id, document_id of every document whose text the
    guard holds, by contributor and month (the order their Parquet parts are read in)."""
    return pl.from_arrow(conn.sql(sql.load(SQL, "recitation_holders")).to_arrow_table())


@dataclass
class IndexUpdate:
    """What an update of the guard's index does: the texts it keeps (content_hash, text_id), the documents of the
    texts new to it (rows of `held`), the text ids leaving it, and the first free text id."""

    kept: pl.DataFrame
    new: pl.DataFrame
    removed: set[int]
    next_id: int


def plan_update(held: pl.DataFrame, indexed: pl.DataFrame | None) -> IndexUpdate:
    """Compares the texts the guard must hold (`held`, from `holders`) with those it holds (`indexed`: content_hash,
    text_id; None: no index yet) by joins, not Python sets: a pool of millions of documents plans in a second."""
    current = indexed if indexed is not None else pl.DataFrame(schema={"content_hash": pl.String, "text_id": pl.Int64})
    wanted = held.select("content_hash").unique()
    kept = current.join(wanted, on="content_hash", how="semi")
    removed = current.join(wanted, on="content_hash", how="anti")["text_id"].to_list()
    new = held.join(current, on="content_hash", how="anti", maintain_order="left")
    return IndexUpdate(kept, new, set(removed), int(current["text_id"].max() or 0) + 1)


def sources(held: pl.DataFrame, text_ids: pl.DataFrame) -> pl.DataFrame:
    """Per guard text id (`text_ids`: content_hash, text_id), the documents holding it (what the operator is told; a
    contributor sees their own): one row per document, in `held`'s order, so a text's contributor is its first
    document's."""
    return (held.join(text_ids, on="content_hash", how="inner", maintain_order="left")
            .select("text_id", "content_hash", "contributor_id", "document_id", "file", "position", "doc_id"))


def store_incidents(conn: duckdb.DuckDBPyConnection, day: date, incidents: pl.DataFrame) -> None:
    """Replaces the day's incidents (call inside a transaction): a day re-checked gives the same rows."""
    conn.execute("DELETE FROM recitation_incidents WHERE day = ?", [day])
    if incidents.height:
        insert_frame(conn, "recitation_incidents", incidents.cast(INCIDENT_SCHEMA))


@dataclass(frozen=True)
class Recited:
    """A contributor's text recited in one output."""

    output_at: datetime
    request_id: str
    span_start: int
    span_end: int
    tokens: int
    file: str
    position: int


def month_incidents(conn: duckdb.DuckDBPyConnection, contributor_id: str, start: date, end: date,
                    limit: int = 50) -> tuple[int, int, list[Recited]]:
    """(outputs that recited the contributor's text, spans, the latest spans) between `start` and `end` (days)."""
    (outputs, spans), = conn.execute(
        "SELECT count(DISTINCT request_id), count(*) FROM recitation_incidents "
        "WHERE contributor_id = ? AND day >= ? AND day < ?", [contributor_id, start, end]).fetchall()
    rows = conn.execute(
        "SELECT output_at, request_id, span_start, span_end, tokens, file, position FROM recitation_incidents "
        "WHERE contributor_id = ? AND day >= ? AND day < ? ORDER BY output_at DESC, request_id, span_start LIMIT ?",
        [contributor_id, start, end, limit]).fetchall()
    return int(outputs), int(spans), [Recited(*row) for row in rows]


def incidents_by_contributor(conn: duckdb.DuckDBPyConnection, start: date, end: date) -> list[tuple[str, int, int]]:
    """(contributor, outputs, spans) recited between `start` and `end`, most recited first: the operator's view."""
    return [(c, int(o), int(s)) for c, o, s in conn.execute(
        "SELECT contributor_id, count(DISTINCT request_id), count(*) FROM recitation_incidents "
        "WHERE day >= ? AND day < ? GROUP BY 1 ORDER BY 2 DESC, 1", [start, end]).fetchall()]
