"""Updating the recitation guard's index: which partitions to read again, the id of every text they hold, the texts
new to the guard read from their partitions' parts, and the next sources of the partitions read again.

Planned and joined by DuckDB over Parquet files in the update's private folder (DuckDB spills past its memory
limit), so an update of any size (a backfill of millions of documents, a rebuild after a rule change) holds no Python
object per document or text: its memory is DuckDB's limit, one batch of parts, a flag per new text, and the segment
being built (onett_text.recitation)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from onett_domain import sql
from onett_domain.recitation import PARTITION, SourcesUnreadable, part_name
from onett_domain.sql import Scratch, literal, literal_list
from onett_text.passages import encode
from onett_text.recitation import SOURCE_SCHEMA, RecitationIndex, SourceParts

SQL = Path(__file__).with_name("sql")
PICKS_PER_BATCH = 1 << 16
READING_MEMORY = "512MB"  # DuckDB's while texts are read: beside it a segment is being built (about 1 GB at most)


def partition_digests(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """contributor_id, period, documents, digest: per partition, the documents the guard holds, counted and digested
    (one scan, no row leaves the warehouse). A partition whose digest moved is read again; the rest stand."""
    with Scratch(conn) as scratch:
        scratch.view("guard_documents", sql.load(SQL, "guard_documents"))
        return pl.from_arrow(conn.sql(sql.load(SQL, "recitation_partitions")).to_arrow_table())


def changed_partitions(digests: pl.DataFrame, catalog: pl.DataFrame | None) -> pl.DataFrame:
    """contributor_id, period of the partitions to read again: new, moved (another count or digest), gone, or not
    complete when last read (a null digest); every partition when there is no catalog yet."""
    if catalog is None:
        return digests.select(PARTITION)
    keys = [*PARTITION, "documents", "digest"]
    moved = digests.join(catalog.select(keys), on=keys, how="anti").select(PARTITION)
    gone = catalog.join(digests, on=PARTITION, how="anti").select(PARTITION)
    return pl.concat([moved, gone]).unique(maintain_order=True).sort(PARTITION)


@dataclass
class GuardPlan:
    """An update of the guard's index, planned: the partitions' digests now, those read again, and in `folder` the
    guard's documents there (holders.parquet), the id of every text they hold (ids.parquet: content_hash, text_id,
    fresh) and where each text new to the guard is held (new.parquet: contributor_id, period, content_hash,
    text_id). New texts get the ids first_id .. next_id - 1; `removed` (ascending) leave the guard."""

    digests: pl.DataFrame
    changed: pl.DataFrame
    folder: Path
    documents: int
    first_id: int
    next_id: int
    removed: np.ndarray

    @property
    def holders(self) -> Path:
        return self.folder / "holders.parquet"

    @property
    def ids(self) -> Path:
        return self.folder / "ids.parquet"

    @property
    def new(self) -> Path:
        return self.folder / "new.parquet"

    def new_texts(self) -> pl.DataFrame:
        """new.parquet, read whole (for a look at a small plan)."""
        return pl.read_parquet(self.new)


def plan(conn: duckdb.DuckDBPyConnection, current: RecitationIndex | None, folder: Path) -> GuardPlan:
    """Plans the update of `current` (None, or an index without a catalog of source parts: planned whole) from the
    warehouse, into `folder` (private: it names who holds which text): only the partitions whose documents moved
    since it was built are read, with the sources it keeps for them and, for the texts they hold, the sources of the
    other partitions holding them, so an update costs the change and one scan of the digests, not a pass over the
    pool. Raises SourcesUnreadable when one of those sources cannot be read."""
    catalog = current.source_catalog() if current is not None else None
    digests = partition_digests(conn)
    changed = changed_partitions(digests, catalog)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    holders = folder / "holders.parquet"
    with Scratch(conn) as scratch:
        scratch.view("guard_documents", sql.load(SQL, "guard_documents"))
        scratch.frame("asked", changed.select(PARTITION))
        _copy(conn, sql.load(SQL, "recitation_holders"), holders)
        scratch.parquet_view("held", [str(holders)])
        parts = _SourceRows(scratch, current, catalog, folder)
        try:
            parts.view("indexed", changed)
            scratch.table("found", sql.load(SQL, "recitation_found"))
            parts.view("elsewhere_rows", pl.from_arrow(conn.sql(
                "SELECT DISTINCT contributor_id, period FROM found ORDER BY ALL").to_arrow_table()))
            scratch.view("elsewhere", "SELECT e.content_hash, e.text_id FROM elsewhere_rows e "
                                      "SEMI JOIN found USING (content_hash, contributor_id, period)")
            (last_indexed,), = conn.sql("SELECT coalesce(max(text_id), 0) FROM indexed").fetchall()
            first_id = 1 + max(int(last_indexed), 0 if catalog is None else int(catalog["last_text_id"].max() or 0),
                               int(current.text_ids.max()) if current is not None and current.text_count else 0)
            _copy(conn, sql.load(SQL, "recitation_ids"), folder / "ids.parquet", {"next_id": first_id})
            scratch.parquet_view("ids", [str(folder / "ids.parquet")])
            _copy(conn, sql.load(SQL, "recitation_new"), folder / "new.parquet")
            removed = conn.sql("SELECT DISTINCT text_id FROM indexed ANTI JOIN ids USING (text_id) "
                               "ANTI JOIN elsewhere USING (text_id) ORDER BY text_id").fetchnumpy()["text_id"]
            (fresh, documents), = conn.sql(
                "SELECT (SELECT count(*) FROM ids WHERE fresh), (SELECT count(*) FROM held)").fetchall()
        except duckdb.Error as exc:
            scratch.drop_all()
            unreadable = parts.unreadable(exc)
            if unreadable is None:
                raise
            raise unreadable from exc
    return GuardPlan(digests, changed, folder, int(documents), first_id, first_id + int(fresh),
                     np.asarray(removed, dtype=np.int64))


def _copy(conn: duckdb.DuckDBPyConnection, select: str, to: Path, params: dict | None = None) -> None:
    conn.execute(f"COPY ({select}) TO {literal(str(to))} (FORMAT parquet)", params or {}).fetchall()


class _SourceRows:
    """Views of the current index's source parts of some partitions (content_hash, text_id, contributor_id, period),
    read by DuckDB where they lie (a part still in memory is written to the plan's folder first)."""

    def __init__(self, scratch: Scratch, current: RecitationIndex | None, catalog: pl.DataFrame | None,
                 folder: Path):
        self.scratch, self.catalog, self.folder = scratch, catalog, folder
        self.frames = current.source_parts().frames if catalog is not None else {}
        self.files: list[str] = []

    def view(self, name: str, partitions: pl.DataFrame) -> None:
        listed = None if self.catalog is None else self.catalog.join(partitions, on=PARTITION, how="semi")
        files = [] if listed is None else [self._file(part) for part in listed["part"].to_list()]
        if not files:
            self.scratch.view(name, "SELECT NULL::VARCHAR AS content_hash, NULL::BIGINT AS text_id, "
                                    "NULL::VARCHAR AS contributor_id, NULL::DATE AS period WHERE false")
            return
        self.files += files
        self.scratch.frame(f"{name}_files", listed.select(*PARTITION).with_columns(filename=pl.Series(files)))
        self.scratch.view(name, f"SELECT r.content_hash, r.text_id, f.contributor_id, f.period "
                                f"FROM read_parquet({literal_list(files)}, filename=true) r "
                                f"JOIN {name}_files f USING (filename)")

    def _file(self, part: str) -> str:
        rows = self.frames[part]
        if isinstance(rows, pl.DataFrame):
            rows.write_parquet(self.folder / f"given-{part}.parquet")
            return str(self.folder / f"given-{part}.parquet")
        try:
            pq.read_metadata(rows)
        except (OSError, pa.ArrowException) as exc:
            raise SourcesUnreadable(f"the recitation index's source part {part} cannot be read ({exc})") from exc
        return str(rows)

    def unreadable(self, exc: duckdb.Error) -> SourcesUnreadable | None:
        """`exc` as SourcesUnreadable when it names one of the parts read."""
        named = next((f for f in self.files if f in str(exc)), None)
        if named is None:
            return None
        return SourcesUnreadable(f"the recitation index's source part {Path(named).stem} cannot be read ({exc})")


class Reading:
    """The texts new to the guard read from their partitions' parts (as a plan names them), then the next sources.

    Which row of a partition's parts to read each text from is joined by DuckDB (a connection of its own over the
    plan's files, spilling to the plan's folder); the parts are then read batch by batch in order and the picked rows
    taken, so reading holds a batch and a flag per new text whatever the partition's size. A text is read once,
    from the first partition (in the plan's order) whose parts hold it."""

    def __init__(self, plan: GuardPlan, memory_limit: str = READING_MEMORY):
        self.plan = plan
        self.indexed = np.zeros(plan.next_id - plan.first_id, dtype=bool)
        self.recoded = 0
        self.found = 0  # new texts of the partition being read found in its parts so far
        self.conn = duckdb.connect(config={"memory_limit": memory_limit,
                                           "temp_directory": str(plan.folder / "duckdb.tmp")})
        self.conn.read_parquet(str(plan.new)).create_view("new")

    def __enter__(self) -> Reading:
        return self

    def __exit__(self, *_) -> None:
        self.conn.close()

    def partitions(self) -> list[tuple[str, date, int]]:
        """(contributor_id, period, texts) of each partition holding texts new to the guard, in reading order."""
        return self.conn.sql("SELECT contributor_id, period, count(DISTINCT text_id) FROM new "
                             "GROUP BY ALL ORDER BY contributor_id, period").fetchall()

    def texts(self, contributor_id: str, period: date, texts: int, token_parts: list[Path],
              batches: Callable[[list[Path], list[str]], Iterable[pl.DataFrame]], text_parts: list[Path],
              encoding: str, min_tokens: int = 0) -> Iterator[tuple[int, np.ndarray]]:
        """(text id, token ids) of each of the partition's `texts` new texts not read yet: from the token ids its
        `token_parts` keep, else (parts from before token ids were kept) tokenized again from its `text_parts`.
        `batches(parts, columns)` reads parts a written batch at a time, in order. A text of fewer than
        `min_tokens` stored ids is read but not given (the index could not hold it)."""
        self.found = 0
        yield from self._taken(contributor_id, period, token_parts, [], batches, "token_ids", min_tokens)
        if self.found < texts and text_parts:
            for text_id, text in self._taken(contributor_id, period, text_parts, token_parts, batches, "text", 0):
                self.recoded += 1
                yield text_id, encode(text, encoding)

    def _taken(self, contributor_id: str, period: date, parts: list[Path], besides: list[Path],
               batches: Callable[[list[Path], list[str]], Iterable[pl.DataFrame]], column: str,
               min_tokens: int) -> Iterator[tuple[int, object]]:
        """(text id, `column` of its first row in `parts`) for each of the partition's new texts found there and in
        none of `besides`, not read yet (nor, for token ids, shorter than `min_tokens`); `found` counts every new
        text found, given or not."""
        if not parts:
            return
        picks = self._picks(contributor_id, period, parts, besides)
        try:
            yield from self._walk(contributor_id, period, picks, batches(parts, ["content_hash", column]), column,
                                  min_tokens)
        finally:
            picks.close()  # its query let go of before the connection is

    def _walk(self, contributor_id: str, period: date, picks: Iterator[pa.RecordBatch],
              batches: Iterable[pl.DataFrame], column: str, min_tokens: int) -> Iterator[tuple[int, object]]:
        """The picked rows taken from the parts' batches: both in row order, so one pass over each, and every
        check and flag a batch at a time (a partition may hold millions of short texts)."""
        rows, ids, hashes = np.zeros(0, np.int64), np.zeros(0, np.int64), pl.Series("content_hash", [], pl.String)
        start, done = 0, False
        for batch in batches:
            end = start + batch.height
            while not done and (not len(rows) or rows[-1] < end):
                chunk = next(picks, None)
                if chunk is None:
                    done = True
                else:
                    rows = np.concatenate([rows, chunk.column("row").to_numpy()])
                    ids = np.concatenate([ids, chunk.column("text_id").to_numpy()])
                    hashes = hashes.append(pl.Series("content_hash", chunk.column("content_hash"), pl.String))
            taken = int(np.searchsorted(rows, end))
            if taken:
                local = rows[:taken] - start
                if not batch["content_hash"].gather(local).cast(pl.String).equals(hashes.head(taken),
                                                                                  check_names=False):
                    raise ValueError(f"the filtered parts of {contributor_id} {period:%Y-%m} changed while the "
                                     "recitation index read them: run the update again")
                slots = ids[:taken] - self.plan.first_id
                fresh = ~self.indexed[slots]
                self.indexed[slots] = True
                self.found += taken
                values, lengths = _values(batch[column], local)
                if lengths is not None:
                    fresh &= lengths >= min_tokens
                for n in np.flatnonzero(fresh).tolist():
                    yield int(ids[n]), values(n)
                rows, ids, hashes = rows[taken:], ids[taken:], hashes.slice(taken)
            start = end
            if done and not len(rows):
                break

    def _picks(self, contributor_id: str, period: date, parts: list[Path],
               besides: list[Path]) -> Iterator[pa.RecordBatch]:
        """row (numbered across `parts` in order), text_id, content_hash of the first row holding each of the
        partition's new texts, in row order (DuckDB sorts, spilling), a batch at a time."""
        offsets = np.concatenate([[0], np.cumsum([pq.read_metadata(p).num_rows for p in parts])[:-1]])
        self.conn.register("_offsets", pa.table({"filename": [str(p) for p in parts],
                                                 "offset": pa.array(offsets, pa.int64())}))
        other = (f"ANTI JOIN read_parquet({literal_list([str(p) for p in besides])}) b "
                 "ON b.content_hash = p.content_hash") if besides else ""
        query = sql.load(SQL, "recitation_picks").format(
            parts=f"read_parquet({literal_list([str(p) for p in parts])}, filename=true, file_row_number=true)",
            besides=other)
        reader = self.conn.sql(query, params={"contributor_id": contributor_id, "period": period}
                               ).to_arrow_reader(PICKS_PER_BATCH)
        try:
            yield from reader
        finally:
            reader.close()
            self.conn.unregister("_offsets")

    def unread(self) -> np.ndarray:
        """The new text ids not read (their partitions' parts missing or without them), ascending."""
        return np.flatnonzero(~self.indexed).astype(np.int64) + self.plan.first_id

    def sources(self, current: RecitationIndex | None) -> SourceParts:
        """The next generation's sources: the parts of the partitions read again written anew into the plan's folder
        by DuckDB (holders with their text ids, in the holders' order: a text's contributor is its first document's),
        the others linked from `current`. A new text not read is left out, and every partition holding it gets a
        null digest, so the next update reads it again."""
        plan, folder = self.plan, self.plan.folder
        self.conn.register("unread", pa.table({"text_id": self.unread()}))
        self.conn.read_parquet(str(plan.holders)).create_view("holders")
        self.conn.read_parquet(str(plan.ids)).create_view("ids")
        sources = folder / "sources.parquet"
        _copy(self.conn, sql.load(SQL, "recitation_sources"), sources)
        held = pl.from_arrow(self.conn.sql(
            f"SELECT contributor_id, period, max(text_id) AS last_text_id FROM read_parquet({literal(str(sources))}) "
            "GROUP BY ALL ORDER BY ALL").to_arrow_table())
        parts: dict[str, Path] = {}
        last_ids: dict[str, int] = {}
        for contributor_id, period, last in held.iter_rows():
            name = part_name(contributor_id, period)
            parts[name], last_ids[name] = folder / f"source-{name}.parquet", last
            _copy(self.conn, f"SELECT {', '.join(SOURCE_SCHEMA)} FROM read_parquet({literal(str(sources))}) "
                             "WHERE contributor_id = $contributor_id AND period = $period "
                             "ORDER BY content_hash, file, position",
                  parts[name], {"contributor_id": contributor_id, "period": period})
        incomplete = pl.from_arrow(self.conn.sql(
            "SELECT DISTINCT contributor_id, period FROM new SEMI JOIN unread USING (text_id)").to_arrow_table())
        earlier = current.source_parts() if current is not None else None
        listed = catalog(plan.digests, last_ids, earlier.catalog if earlier else None, incomplete)
        read_again = {part_name(c, p) for c, p in plan.changed.iter_rows()}
        empty = pl.DataFrame(schema=SOURCE_SCHEMA)
        frames = {part: parts.get(part, empty) if part in read_again or earlier is None else earlier.frames[part]
                  for part in listed["part"].to_list()}
        return SourceParts(listed, frames)


def _values(column: pl.Series, rows: np.ndarray) -> tuple[Callable[[int], object], np.ndarray | None]:
    """The value of `column` at each of `rows`, by position among them (token ids as an array of their own, texts
    as strings), and for token ids the length of each."""
    if column.dtype == pl.String:
        texts = column.gather(rows).to_list()
        return texts.__getitem__, None
    ids = column.gather(rows).to_arrow()
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    offsets, values = np.asarray(ids.offsets), np.asarray(ids.values)
    return (lambda n: values[offsets[n]:offsets[n + 1]].copy()), np.diff(offsets)


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
