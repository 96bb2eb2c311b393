"""The recitation guard: an index of every text earning for a contributor, and the recitations found in the
consumer's model output logs, day by day (onett_text.recitation does the matching)."""

import time
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    DailyPartitionsDefinition,
    MaterializeResult,
    ResourceParam,
    asset,
)

from onett_assets.metadata import bullets, table
from onett_domain import recitation, recitation_update
from onett_domain.policy import Policy
from onett_resources import DocumentStore, OutputLogs, RecitationStore, Tokenizer, Warehouse
from onett_resources.document_store import MissingStage
from onett_resources.parquet_parts import read_batches
from onett_resources.warehouse import transaction
from onett_text.passages import GUARANTEED_SPAN, char_offsets, encode
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
        with recitation_store.spill() as spill:  # the plan's files, the new segments and source parts, as made
            with warehouse.connection() as conn:
                try:
                    plan = recitation_update.plan(conn, current, spill)
                except recitation.SourcesUnreadable as exc:
                    context.log.warning(f"{exc}: the index is rebuilt whole")
                    current, rebuilt = None, str(exc)
                    plan = recitation_update.plan(conn, None, spill)
            planned = time.perf_counter()
            missing: list[str] = []
            with recitation_update.Reading(plan) as reading:

                def added():
                    """(text id, token ids) of each text new to the guard, read partition by partition."""
                    for contributor_id, period, texts in reading.partitions():
                        try:
                            token_parts = document_store.parts("filtered", contributor_id, period, "passages")
                            text_parts = document_store.parts("filtered", contributor_id, period)
                        except MissingStage:
                            missing.append(f"{contributor_id} {period:%Y-%m}")
                            continue
                        yield from reading.texts(contributor_id, period, texts, token_parts, read_batches,
                                                 text_parts, tokenizer.encoding, min_tokens=GUARANTEED_SPAN)

                sources = partial(reading.sources, current)  # once every text is read
                if current is None:
                    index = RecitationIndex.build(added(), tokenizer.encoding, sources, spill=spill)
                else:
                    index = current.updated(added(), plan.removed, sources, spill=spill)
                read = int(reading.indexed.sum())
                recoded = reading.recoded
            built = time.perf_counter()
            recitation_store.save(index)
        saved = time.perf_counter()
        return MaterializeResult(metadata={
            "texts": index.text_count,
            "documents": int(plan.digests["documents"].sum()),
            "partitions": plan.digests.height,
            "partitions read again": plan.changed.height,
            "tokens": index.token_count,
            "texts added": read,
            "texts removed": len(plan.removed),
            "segments": len(index.segments),
            "how": "updated" if current is not None else "built whole" + (f" ({rebuilt})" if rebuilt else ""),
            "fingerprints": index.fingerprint_count,
            "bytes per token": round(index.bytes_per_token, 3),
            "MB": round(index.nbytes / 2**20, 1),
            "texts tokenized again (parts from before token ids were kept)": recoded,
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
