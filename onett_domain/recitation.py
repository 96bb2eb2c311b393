"""The recitation guard's records: which texts the guard holds (every text earning for a contributor now, with the
documents holding it), and the recitations found in the consumer's output logs, per day, per contributor.

The 1T Club promises that partners' text is used for pre-training only and cannot be extracted: the guard finds
every span of a model output that contributed text holds verbatim, and these records make that promise a number
each partner can see ("your text was recited N times this month")."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import polars as pl

from onett_domain.sql import insert_frame
from onett_text.recitation import RecitationIndex

INCIDENT_SCHEMA = {"day": pl.Date, "output_at": pl.Datetime("us", "UTC"), "request_id": pl.String,
                   "source": pl.String, "span_start": pl.Int32, "span_end": pl.Int32, "tokens": pl.Int32,
                   "contributor_id": pl.String, "document_id": pl.String, "file": pl.String, "position": pl.Int64}


PARTITION = ["contributor_id", "period"]


def part_name(contributor_id: str, period: date) -> str:
    """The file name of a partition's sources (contributor ids are any text; a digest of them is a safe name)."""
    digest = hashlib.sha256(f"{contributor_id}\x1f{period:%Y-%m}".encode()).hexdigest()[:24]
    return f"{period:%Y%m}-{digest}"


class SourcesUnreadable(Exception):
    """A part of the guard's sources that its catalog lists cannot be read: the index is rebuilt whole."""


def check_sources(index: RecitationIndex) -> tuple[int, list[str]]:
    """(parts checked, problems) of the guard's sources: a part its catalog lists that cannot be read, or a complete
    one (its digest set) holding another number of documents than its catalog counted."""
    catalog = index.source_catalog()
    if catalog is None:
        return 0, []
    problems = []
    for part, contributor_id, period, documents, digest in catalog.select(
            "part", *PARTITION, "documents", "digest").iter_rows():
        try:
            rows = index.source_rows(part)
        except (OSError, ValueError) as exc:
            problems.append(f"the recitation index's source part {part} cannot be read ({exc}): delete the index "
                            "folder, the next `onett ingest` rebuilds it")
            continue
        if digest is not None and rows != documents:
            problems.append(f"the recitation index's sources of {contributor_id} {period:%Y-%m} hold {rows} "
                            f"document(s), its catalog counted {documents}: delete the index folder, the next "
                            "`onett ingest` rebuilds it")
    return catalog.height, problems


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
