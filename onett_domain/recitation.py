"""The recitation guard's records: which texts the guard holds (every text earning for a contributor now, with the
documents holding it), and the recitations found in the consumer's output logs, per day, per contributor.

The 1T Club promises that partners' text is used for pre-training only and cannot be extracted: the guard finds
every span of a model output that contributed text holds verbatim, and these records make that promise a number
each partner can see ("your text was recited N times this month")."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl

from onett_domain import sql
from onett_domain.sql import Scratch, insert_frame
from onett_text.recitation import SOURCE_SCHEMA, RecitationIndex, SourceParts

SQL = Path(__file__).with_name("sql")

INCIDENT_SCHEMA = {"day": pl.Date, "output_at": pl.Datetime("us", "UTC"), "request_id": pl.String,
                   "source": pl.String, "span_start": pl.Int32, "span_end": pl.Int32, "tokens": pl.Int32,
                   "contributor_id": pl.String, "document_id": pl.String, "file": pl.String, "position": pl.Int64}


PARTITION = ["contributor_id", "period"]


def partition_digests(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """contributor_id, period, documents, digest: per partition, the documents the guard holds, counted and digested
    (one scan, no row leaves the warehouse). A partition whose digest moved is read again; the rest stand."""
    return _guard_query(conn, "recitation_partitions")


def _guard_query(conn: duckdb.DuckDBPyConnection, name: str, *, to: Path | None = None,
                 **frames: pl.DataFrame) -> pl.DataFrame | Path:
    """The rows of `name`.sql, which reads `guard_documents` (the documents the guard holds) and `frames` by name;
    written by DuckDB as the Parquet file `to` (which is returned), if given."""
    with Scratch(conn) as scratch:
        scratch.view("guard_documents", sql.load(SQL, "guard_documents"))
        for frame_name, frame in frames.items():
            scratch.frame(frame_name, frame)
        if to is not None:
            conn.execute(f"COPY ({sql.load(SQL, name)}) TO {sql.literal(str(to))} (FORMAT parquet)").fetchall()
            return to
        return pl.from_arrow(conn.sql(sql.load(SQL, name)).to_arrow_table())


def changed_partitions(digests: pl.DataFrame, catalog: pl.DataFrame | None) -> pl.DataFrame:
    """contributor_id, period of the partitions to read again: new, moved (another count or digest), gone, or not
    complete when last read (a null digest); every partition when there is no catalog yet."""
    if catalog is None:
        return digests.select(PARTITION)
    keys = [*PARTITION, "documents", "digest"]
    moved = digests.join(catalog.select(keys), on=keys, how="anti").select(PARTITION)
    gone = catalog.join(digests, on=PARTITION, how="anti").select(PARTITION)
    return pl.concat([moved, gone]).unique(maintain_order=True).sort(PARTITION)


def holders(conn: duckdb.DuckDBPyConnection, partitions: pl.DataFrame,
            to: Path | None = None) -> pl.DataFrame | Path:
    """content_hash, contributor_id, period, file, position, doc_id, document_id of every document the guard holds
    in `partitions` (contributor_id, period), by partition (the order their Parquet parts are read in); written as
    the Parquet file `to`, if given (a backfill's documents are then not held in memory)."""
    return _guard_query(conn, "recitation_holders", to=to, asked=partitions.select(PARTITION))


def held_elsewhere(conn: duckdb.DuckDBPyConnection, content_hashes: pl.Series,
                   partitions: pl.DataFrame) -> pl.DataFrame:
    """content_hash, contributor_id, period: where the guard holds these texts outside `partitions` (their text ids
    stand: an update must neither drop them nor give them new ones)."""
    if content_hashes.is_empty():
        return pl.DataFrame(schema={"content_hash": pl.String, "contributor_id": pl.String, "period": pl.Date})
    wanted = pl.DataFrame({"content_hash": content_hashes.unique()})
    return _guard_query(conn, "recitation_held_elsewhere", wanted=wanted, asked=partitions.select(PARTITION))


def part_name(contributor_id: str, period: date) -> str:
    """The file name of a partition's sources (contributor ids are any text; a digest of them is a safe name)."""
    digest = hashlib.sha256(f"{contributor_id}\x1f{period:%Y-%m}".encode()).hexdigest()[:24]
    return f"{period:%Y%m}-{digest}"


@dataclass
class IndexUpdate:
    """What an update of the guard's index does: the text id of every text the partitions read again hold
    (content_hash, text_id), the documents of the texts new to the guard (contributor_id, period, content_hash,
    text_id), the text ids leaving it, and the first free text id."""

    ids: pl.DataFrame
    new: pl.DataFrame
    removed: set[int]
    next_id: int


def plan_update(held: pl.DataFrame, indexed: pl.DataFrame, elsewhere: pl.DataFrame, next_id: int) -> IndexUpdate:
    """Compares, in the partitions read again, the texts the guard must hold (`held`, from `holders`) with those
    their sources name (`indexed`: content_hash, text_id), by joins: a text keeps its id, is new (the next free
    ids, in `held`'s order), or leaves the guard unless another partition holds it (`elsewhere`: content_hash,
    text_id)."""
    known = (pl.concat([indexed.select("content_hash", "text_id"), elsewhere.select("content_hash", "text_id")])
             .unique("content_hash", keep="first", maintain_order=True))
    wanted = held.select("content_hash").unique(maintain_order=True)
    fresh = wanted.join(known, on="content_hash", how="anti", maintain_order="left")
    fresh = fresh.with_columns(text_id=pl.int_range(next_id, next_id + fresh.height, dtype=pl.Int64))
    ids = pl.concat([wanted.join(known, on="content_hash", how="inner", maintain_order="left"), fresh])
    staying = set(ids["text_id"].to_list()) | set(elsewhere["text_id"].to_list())
    removed = set(indexed["text_id"].to_list()) - staying
    new = held.select(*PARTITION, "content_hash").join(fresh, on="content_hash", how="inner", maintain_order="left")
    return IndexUpdate(ids, new, removed, next_id + fresh.height)


class SourcesUnreadable(Exception):
    """A part of the guard's sources that its catalog lists cannot be read: the index is rebuilt whole."""


def _part(current: RecitationIndex, part: str) -> pl.DataFrame:
    try:
        return current.source_part(part, ["content_hash", "text_id"])
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise SourcesUnreadable(f"the recitation index's source part {part} cannot be read ({exc})") from exc


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
            rows = _part(index, part).height
        except SourcesUnreadable as exc:
            problems.append(f"{exc}: delete the index folder, the next `onett ingest` rebuilds it")
            continue
        if digest is not None and rows != documents:
            problems.append(f"the recitation index's sources of {contributor_id} {period:%Y-%m} hold {rows} "
                            f"document(s), its catalog counted {documents}: delete the index folder, the next "
                            "`onett ingest` rebuilds it")
    return catalog.height, problems


@dataclass
class GuardPlan:
    """An update of the guard's index, planned: the partitions' digests now, those read again, the guard's
    documents in them (`held`: contributor_id, period, content_hash; `documents`: every column `holders` gives, or
    the file they were written to) and what happens to their texts (`update`)."""

    digests: pl.DataFrame
    changed: pl.DataFrame
    held: pl.DataFrame
    documents: pl.DataFrame | Path
    update: IndexUpdate


def plan(conn: duckdb.DuckDBPyConnection, current: RecitationIndex | None, spill: Path | None = None) -> GuardPlan:
    """Plans the update of `current` (None, or an index without a catalog of source parts: planned whole) from the
    warehouse: only the partitions whose documents moved since it was built are read, with the sources it keeps
    for them, so an update costs the change and one scan of the digests, not a pass over the pool. With `spill` (a
    private folder), the guard's documents there are written to it for the sources, not held in memory. Raises
    SourcesUnreadable when one of those sources cannot be read."""
    catalog = current.source_catalog() if current is not None else None
    digests = partition_digests(conn)
    changed = changed_partitions(digests, catalog)
    if spill is not None:
        spill.mkdir(mode=0o700, parents=True, exist_ok=True)
    documents = holders(conn, changed, None if spill is None else spill / "holders.parquet")
    held = _scan(documents).select(*PARTITION, "content_hash").collect()
    indexed = pl.DataFrame(schema={"content_hash": pl.String, "text_id": pl.Int64})
    elsewhere = indexed
    next_id = 1
    if catalog is not None:
        parts = catalog.join(changed, on=PARTITION, how="semi")["part"].to_list()
        indexed = pl.concat([indexed, *(_part(current, p) for p in parts)])
        found = held_elsewhere(conn, pl.concat([held["content_hash"], indexed["content_hash"]]), changed)
        ids = []
        for part, group in (found.join(catalog.select(*PARTITION, "part"), on=PARTITION)
                            .partition_by("part", as_dict=True).items()):
            ids.append(_part(current, part[0]).join(group.select("content_hash"), on="content_hash", how="semi"))
        elsewhere = pl.concat([elsewhere, *ids])
        next_id = 1 + max(int(catalog["last_text_id"].max() or 0), int(indexed["text_id"].max() or 0),
                          int(current.text_ids.max()) if current.text_count else 0)
    return GuardPlan(digests, changed, held, documents, plan_update(held, indexed, elsewhere, next_id))


def _scan(documents: pl.DataFrame | Path) -> pl.LazyFrame:
    """The guard's documents `holders` gave, held as a frame or written to a file, to read lazily."""
    return documents.lazy() if isinstance(documents, pl.DataFrame) else pl.scan_parquet(documents)


def catalog(digests: pl.DataFrame, last_ids: dict[str, int], earlier: pl.DataFrame | None,
            incomplete: pl.DataFrame) -> pl.DataFrame:
    """The catalog of the next generation's source parts: a row per partition the guard holds documents of (its
    digest, its part, the part's highest text id); `incomplete` partitions (contributor_id, period: some texts
    not indexed) get a null digest, so the next update reads them again."""
    named = digests.with_columns(part=pl.struct(PARTITION).map_elements(
        lambda key: part_name(key["contributor_id"], key["period"]), return_dtype=pl.String))
    last = pl.DataFrame({"part": list(last_ids), "last_text_id": list(last_ids.values())},
                        schema={"part": pl.String, "last_text_id": pl.Int64})
    if earlier is not None:
        last = pl.concat([last, earlier.select("part", "last_text_id")]).unique("part", keep="first")
    flagged = incomplete.select(*PARTITION).with_columns(stale=pl.lit(True))
    return (named.join(last, on="part", how="left").join(flagged, on=PARTITION, how="left")
            .with_columns(digest=pl.when(pl.col("stale")).then(None).otherwise(pl.col("digest")))
            .with_columns(pl.col("last_text_id").fill_null(0)).drop("stale"))


def next_sources(plan: GuardPlan, current: RecitationIndex | None, indexed: set[int],
                 spill: Path | None = None) -> SourceParts:
    """The next generation's sources: the parts of the partitions read again written anew (under `spill`, if given,
    as they are made), the others linked from `current`. A new text not `indexed` (its partition's parts could not
    be read) is left out, and its partition read again by the next update."""
    unread = plan.update.new.filter(~pl.col("text_id").is_in(list(indexed)))
    ids = plan.update.ids.join(unread.select("content_hash"), on="content_hash", how="anti")
    parts, last_ids = source_parts(plan.held, plan.documents, ids, spill)
    earlier = current.source_parts() if current is not None else None
    listed = catalog(plan.digests, last_ids, earlier.catalog if earlier else None, unread)
    read_again = {part_name(c, p) for c, p in plan.changed.iter_rows()}
    empty = pl.DataFrame(schema=SOURCE_SCHEMA)
    frames = {part: parts.get(part, empty) if part in read_again or earlier is None else earlier.frames[part]
              for part in listed["part"].to_list()}
    return SourceParts(listed, frames)


def source_parts(held: pl.DataFrame, documents: pl.DataFrame | Path, ids: pl.DataFrame,
                 spill: Path | None = None) -> tuple[dict[str, pl.DataFrame | Path], dict[str, int]]:
    """Per partition of `held` (part_name): its `documents` (a frame, or the file `holders` wrote) with their text
    ids (SOURCE_SCHEMA), in their order, so a text's contributor is its first document's; and the highest text id of
    each part that holds any. Made a partition at a time: with `spill`, each part is written there as it is made
    and given by its file, so a backfill's documents are never all in memory at once."""
    parts: dict[str, pl.DataFrame | Path] = {}
    last_ids: dict[str, int] = {}
    scan = _scan(documents)
    for contributor_id, period in held.select(PARTITION).unique(maintain_order=True).iter_rows():
        group = scan.filter((pl.col("contributor_id") == contributor_id) & (pl.col("period") == period)).collect()
        rows = (group.join(ids, on="content_hash", how="inner", maintain_order="left")
                .select(*SOURCE_SCHEMA).cast(SOURCE_SCHEMA))
        name = part_name(contributor_id, period)
        if rows.height:
            last_ids[name] = int(rows["text_id"].max())
        if spill is not None:
            spill.mkdir(mode=0o700, parents=True, exist_ok=True)  # private: the parts name who holds which text
            rows.write_parquet(spill / f"source-{name}.parquet")
            rows = spill / f"source-{name}.parquet"
        parts[name] = rows
    return parts, last_ids


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
