"""The recitation guard: an index of every text earning for a contributor, and the recitations found in the
consumer's model output logs, day by day (onett_text.recitation does the matching)."""

import time
from collections.abc import Generator, Iterator
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pyarrow as pa
from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    DailyPartitionsDefinition,
    MaterializeResult,
    ResourceParam,
    asset,
)

from onett_assets.metadata import bullets, table
from onett_domain import recitation
from onett_domain.policy import Policy
from onett_resources import DocumentStore, OutputLogs, RecitationStore, Tokenizer, Warehouse
from onett_resources.document_store import MissingStage
from onett_resources.warehouse import transaction
from onett_text.passages import char_offsets, encode
from onett_text.recitation import RecitationIndex

GROUP = "recitation"


def recitation_assets(policy: Policy) -> list[AssetsDefinition]:
    days = DailyPartitionsDefinition(start_date=policy.first_period.isoformat(), timezone=policy.timezone,
                                     end_offset=1)

    @asset(group_name=GROUP, deps=["token_counts", "erasures"], kinds={"numpy"})
    def recitation_index(context: AssetExecutionContext, warehouse: Warehouse, document_store: DocumentStore,
                         recitation_store: RecitationStore, tokenizer: Tokenizer) -> MaterializeResult:
        """Every text a contributor earns for now (accepted, file in, terms running, not erased), as token ids with
        their winnowed fingerprints, and the documents holding each: what `/v1/recitation` and the daily check of
        the output logs look outputs up in. Updated, not rebuilt: only the partitions whose documents moved are read
        again (a digest per partition tells them), the texts new to the pool are read from their submissions' parts
        into a new segment, the segments holding texts that left it are rewritten without them, and the new
        generation is swapped in at once; text that left the pool leaves the disk with this update."""
        started = time.perf_counter()
        current, rebuilt = recitation_store.current(), ""
        if current is not None and (current.encoding != tokenizer.encoding or current.source_catalog() is None):
            current, rebuilt = None, "ids of another encoding, or sources not kept in parts yet"
        with recitation_store.spill() as spill:  # the holders' rows, the new segments and source parts, as made
            with warehouse.connection() as conn:
                try:
                    plan = recitation.plan(conn, current, spill)
                except recitation.SourcesUnreadable as exc:
                    context.log.warning(f"{exc}: the index is rebuilt whole")
                    current, rebuilt = None, str(exc)
                    plan = recitation.plan(conn, None, spill)
            planned = time.perf_counter()
            indexed: set[int] = set()  # text ids read and indexed
            counts = {"recoded": 0}
            missing: list[str] = []

            def added():
                """(text id, token ids) of each text new to the guard, read submission by submission."""
                for (contributor_id, period), group in plan.update.new.group_by(recitation.PARTITION,
                                                                                 maintain_order=True):
                    todo = dict(zip(group["content_hash"], group["text_id"]))
                    try:
                        found = yield from _new_texts(
                            _token_ids(document_store, contributor_id, period, set(todo)), todo, indexed)
                        # parts written before token ids were kept: the text is tokenized here instead
                        recoded = _encoded(document_store, contributor_id, period, set(todo) - found,
                                           tokenizer.encoding)
                        counts["recoded"] += len((yield from _new_texts(recoded, todo, indexed)))
                    except MissingStage:
                        missing.append(f"{contributor_id} {period:%Y-%m}")

            sources = partial(recitation.next_sources, plan, current, indexed, spill=spill)  # once every text is read
            if current is None:
                index = RecitationIndex.build(added(), tokenizer.encoding, sources, spill=spill)
            else:
                index = current.updated(added(), plan.update.removed, sources, spill=spill)
            built = time.perf_counter()
            recitation_store.save(index)
        saved = time.perf_counter()
        return MaterializeResult(metadata={
            "texts": index.text_count,
            "documents": int(plan.digests["documents"].sum()),
            "partitions": plan.digests.height,
            "partitions read again": plan.changed.height,
            "tokens": index.token_count,
            "texts added": len(indexed),
            "texts removed": len(plan.update.removed),
            "segments": len(index.segments),
            "how": "updated" if current is not None else "built whole" + (f" ({rebuilt})" if rebuilt else ""),
            "fingerprints": index.fingerprint_count,
            "bytes per token": round(index.bytes_per_token, 3),
            "MB": round(index.nbytes / 2**20, 1),
            "texts tokenized again (parts from before token ids were kept)": counts["recoded"],
            "submissions without parts (not indexed)": bullets(missing),
            "seconds": {"plan": round(planned - started, 2), "update": round(built - planned, 2),
                        "save": round(saved - built, 2)},
        })

    @asset(group_name=GROUP, partitions_def=days, deps=[recitation_index], kinds={"duckdb"}, pool="duckdb")
    def recitation_incidents(context: AssetExecutionContext, warehouse: Warehouse, output_logs: OutputLogs,
                             recitation_store: RecitationStore, policy: ResourceParam[Policy]) -> MaterializeResult:
        """The day's model outputs (the consumer's output logs) checked against contributed text: every span of at
        least ONETT_RECITATION_MIN_TOKENS tokens that a contributor's text holds verbatim, one row per span and
        document holding it (`recitation_incidents`). Each contributor sees their own in the portal; the operator
        sees all. Lines that cannot be read are listed, the rest of the day is checked."""
        day = datetime.strptime(context.partition_key, "%Y-%m-%d").date()
        tz = ZoneInfo(policy.timezone)
        start = datetime(day.year, day.month, day.day, tzinfo=tz)
        read = output_logs.read(start, start + timedelta(days=1))
        index = recitation_store.load()
        found, checked_at = [], time.perf_counter()
        for logged in read.outputs:
            ids = encode(logged.output, index.encoding)
            runs = index.runs(ids, recitation_store.min_tokens)  # every text holding each span, not only the first
            if len(runs):
                found.append((logged, runs.tolist(), char_offsets(logged.output, ids, index.encoding)))
        # the documents of the recited texts only, read once for the day
        named = index.sources_of(int(index.text_ids[text]) for _, runs, _ in found for _, _, text, _ in runs)
        rows, reciting = [], len(found)
        for logged, runs, chars in found:
            for start, end, text, _ in runs:
                for document in named.get(int(index.text_ids[text]), {}).get("documents", []):
                    rows.append({"day": day, "output_at": logged.at, "request_id": logged.request_id,
                                 "source": logged.source, "span_start": int(chars[start]),
                                 "span_end": int(chars[end]), "tokens": end - start,
                                 "contributor_id": document["contributor_id"],
                                 "document_id": document["document_id"], "file": document["file"],
                                 "position": document["position"]})
        seconds = time.perf_counter() - checked_at
        incidents = pl.DataFrame(rows, schema=recitation.INCIDENT_SCHEMA)
        with warehouse.connection() as conn, transaction(conn):
            recitation.store_incidents(conn, day, incidents)
        per_contributor = (incidents.group_by("contributor_id")
                           .agg(outputs=pl.col("request_id").n_unique(), spans=pl.len()).sort("contributor_id"))
        return MaterializeResult(metadata={
            "log files read": read.files,
            "outputs": len(read.outputs),
            "outputs reciting contributed text": reciting,
            "lines not read": bullets(read.problems[:50]) if read.problems else "none",
            "recited per contributor": table(["contributor", "outputs", "spans"], per_contributor.rows(),
                                             empty="none"),
            "seconds checking": round(seconds, 2),
        })

    return [recitation_index, recitation_incidents]


def _new_texts(texts: Iterator[tuple[str, np.ndarray]], todo: dict[str, int],
               indexed: set[int]) -> Generator[tuple[int, np.ndarray], None, set[str]]:
    """(text id, token ids) of each text of `texts` (content hash, token ids) not indexed yet, as they are read;
    returns the content hashes read."""
    read = set()
    for content_hash, ids in texts:
        read.add(content_hash)
        if todo[content_hash] not in indexed:
            indexed.add(todo[content_hash])
            yield todo[content_hash], ids
    return read


def _token_ids(store: DocumentStore, contributor_id: str, period,
               wanted: set[str]) -> Iterator[tuple[str, np.ndarray]]:
    """The token ids `filtered` kept for these texts, a batch at a time (a partition's are never all held at once,
    and no Python object per token), each text once."""
    seen: set[str] = set()
    if not wanted:
        return
    for batch in store.batches("filtered", contributor_id, period, ["content_hash", "token_ids"], "passages"):
        hashes = batch["content_hash"].to_list()
        ids = batch["token_ids"].to_arrow()
        if isinstance(ids, pa.ChunkedArray):
            ids = ids.combine_chunks()
        offsets = np.asarray(ids.offsets)
        values = np.asarray(ids.values)
        for row, content_hash in enumerate(hashes):
            if content_hash in wanted and content_hash not in seen:
                seen.add(content_hash)
                yield content_hash, values[offsets[row]:offsets[row + 1]].copy()


def _encoded(store: DocumentStore, contributor_id: str, period, wanted: set[str],
             encoding: str) -> Iterator[tuple[str, np.ndarray]]:
    """These texts tokenized again (parts from before token ids were kept), a batch at a time."""
    seen: set[str] = set()
    if not wanted:
        return
    for batch in store.batches("filtered", contributor_id, period, ["content_hash", "text"]):
        for content_hash, text in batch.iter_rows():
            if content_hash in wanted and content_hash not in seen:
                seen.add(content_hash)
                yield content_hash, encode(text, encoding)
