"""Per (contributor, month): raw_submission -> filtered -> deduped -> token_counts."""


import time
from datetime import date, datetime, timezone

import polars as pl
from dagster import (
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)

from onett_assets.credit import COMPETING, rerank, store_competing_hashes
from onett_assets.funnel import STAGES, funnel_rows, refresh_funnel
from onett_assets.partitions import split_submission_key, submission_partitions
from onett_assets.near_index import find_near_pairs, index_signatures
from onett_assets.preprocessing.pii import PII_KINDS
from onett_assets.preprocessing.batches import combine_summaries, preprocess_row_group
from onett_assets.preprocessing.pipeline import STEPS
from onett_assets.reporting import Stopwatch, markdown_table
from onett_assets.withdrawals import keep_withdrawn_documents, withdraw_submissions
from onett_resources import DocumentStore, LandingZone, Platform, Tokenizer, UploadArchive, Warehouse, Workers
from onett_resources.formats import ReadResult, Record
from onett_resources.landing_zone import file_sha256, partition_fingerprint
from onett_resources.warehouse import insert_frame, transaction

GROUP = "ingest"

RAW_SCHEMA = {
    "contributor_id": pl.String,
    "period": pl.Date,
    "file": pl.String,
    "position": pl.Int64,
    "doc_id": pl.String,
    "submitted_at": pl.Datetime("us", "UTC"),
    "text": pl.String,
}
SUBMISSION_SCHEMA = {
    "contributor_id": pl.String, "period": pl.Date, "file": pl.String, "sha256": pl.String, "bytes": pl.Int64,
    "submitted_at": pl.Datetime("us", "UTC"), "status": pl.String, "error": pl.String,
    "docs_read": pl.Int64, "docs_skipped": pl.Int64, "mtime_ns": pl.Int64, "notes": pl.String,
}


JOB_CHARS = 2 << 20  # text per raw batch, i.e. per preprocessing job: spreads a partition over the workers, and
# bounds a worker's memory (about 300 MB for its tables plus 150 bytes per character of the job)
IN_PROCESS_BYTES = 1 << 20  # compressed raw Parquet below which starting workers costs more than it saves
# After a partition this large (compressed raw Parquet, about 1 GB of text) the workers are stopped, so the
# warehouse step that follows has their memory (restarting them costs about 2 s, nothing next to such a partition)
RELEASE_WORKERS_BYTES = 256 << 20


def _partition(context: AssetExecutionContext) -> tuple[str, date]:
    return split_submission_key(context.partition_key)


@asset(
    group_name=GROUP,
    partitions_def=submission_partitions,
    kinds={"parquet"},
    pool="duckdb",
)
def raw_submission(
    context: AssetExecutionContext,
    landing_zone: LandingZone,
    platform: Platform,
    warehouse: Warehouse,
    upload_archive: UploadArchive,
    document_store: DocumentStore,
) -> MaterializeResult:
    """Every document in the files a contributor uploaded during the month, exactly as uploaded.

    Files are read from the landing zone (`<contributor>/<file>`); a file belongs to the month of its
    modification time in the platform time zone. Each file is recorded in the `submissions` table with
    what became of it; a broken record is skipped and reported with its line, never the whole file. The
    bytes of every accepted file are kept immutably by content hash; a file the contributor already
    uploaded (same bytes, any name) is recorded as a duplicate upload and not read again. Documents are
    streamed to Parquet in batches, so an upload of any size is read in bounded memory.
    """
    contributor_id, period = _partition(context)
    files = landing_zone.files_for(contributor_id, period, platform.tz, platform.first_period_date)
    # The same bytes uploaded twice this month (any names) are read once: the earliest upload counts.
    hashes, first_upload = {}, {}
    for entry in files:
        try:
            if entry.is_symlink:
                raise FileNotFoundError
            sha256 = hashes[entry.file] = file_sha256(entry.path)
        except FileNotFoundError:
            hashes[entry.file] = ""
            continue
        key = (entry.submitted_at, entry.file)
        if sha256 not in first_upload or key < first_upload[sha256]:
            first_upload[sha256] = key

    submissions, documents, text_bytes = [], 0, 0
    with document_store.writing("raw_submission", contributor_id, period) as output:
        for entry in files:
            sha256 = hashes[entry.file]
            first_at, first_file = first_upload.get(sha256, (entry.submitted_at, entry.file))
            notes = ""
            if sha256 and (first_at, first_file) < (entry.submitted_at, entry.file):
                status, error, result = "duplicate upload", "", ReadResult()
                notes = f"identical to {first_file} (uploaded {first_at:%Y-%m-%d %H:%M} UTC): its documents count once"
            else:
                part = output.part("docs")
                sink = lambda records, at=entry.submitted_at, part=part: part.write(  # noqa: E731
                    _records_frame(records, contributor_id, period, at))
                result, file_error, sha256 = landing_zone.read(entry, sha256 or None, sink=sink, batch_chars=JOB_CHARS)
                status, error = result.verdict(file_error)
                if status != "rejected" and not upload_archive.keep(entry.path, sha256):
                    status, error = "rejected", f"{entry.file}: changed while it was being archived; it is read again once complete"
                    result = ReadResult()
                if status == "rejected" or result.documents == 0:
                    part.discard()
                else:
                    part.close()
                notes = "; ".join(result.notes)
            documents += result.documents
            submissions.append({
                "contributor_id": contributor_id, "period": period, "file": entry.file, "sha256": sha256,
                "bytes": entry.size, "submitted_at": entry.submitted_at, "status": status, "error": error,
                "docs_read": result.documents, "docs_skipped": result.skipped, "mtime_ns": entry.mtime_ns,
                "notes": notes,
            })
        files_read = pl.DataFrame(submissions, schema=SUBMISSION_SCHEMA)
        with warehouse.connection() as conn, transaction(conn):
            # Uploads read before and now gone keep their row, as withdrawn (onett_assets/withdrawals.py).
            withdrawn = withdraw_submissions(conn, contributor_id, period, files_read)
            conn.execute("DELETE FROM submissions WHERE contributor_id = ? AND period = ? AND withdrawn_at IS NULL",
                         [contributor_id, period])
            insert_frame(conn, "submissions", files_read)

    problems = [s["error"] for s in submissions if s["error"]]
    return MaterializeResult(
        metadata={
            "files": len(files),
            "bytes": sum(f.size for f in files),
            "documents": documents,
            "records skipped": int(files_read["docs_skipped"].sum()),
            "files rejected": int((files_read["status"] == "rejected").sum()),
            "files withdrawn": MetadataValue.md("\n".join(f"- {f}" for f in withdrawn) or "none"),
            "problems": MetadataValue.md("\n".join(f"- {p}" for p in problems[:50]) or "none"),
            "files read": MetadataValue.md(
                markdown_table(["file", "status", "documents", "skipped", "error"],
                               files_read.select("file", "status", "docs_read", "docs_skipped", "error").rows())
            ),
        },
    )


def _records_frame(records: list[Record], contributor_id: str, period: date, submitted_at: datetime) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "contributor_id": [contributor_id] * len(records),
            "period": [period] * len(records),
            "file": [r.file for r in records],
            "position": [r.position for r in records],
            "doc_id": [r.doc_id for r in records],
            "submitted_at": [submitted_at] * len(records),
            "text": [r.text for r in records],
        },
        schema=RAW_SCHEMA,
    )


@asset(
    group_name=GROUP,
    partitions_def=submission_partitions,
    deps=["raw_submission"],
    kinds={"polars", "parquet"},
)
def filtered(
    context: AssetExecutionContext, document_store: DocumentStore, workers: Workers, tokenizer: Tokenizer
) -> MaterializeResult:
    """The month's documents normalized (Unicode NFC, invisible characters removed, whitespace tidied),
    with personal data masked, their language identified, and judged by the quality rules. Every document
    stays with the rule that rejected it and a plain-words `reason`, so a contributor can see why a document
    earns nothing. Tokens are counted here, once, on the text that would be paid for; kept texts get their
    MinHash signature for the near-duplicate index. Each written batch of raw_submission is one job for the
    workers (every core), which write their output parts themselves."""
    contributor_id, period = _partition(context)
    raw_parts = document_store.parts("raw_submission", contributor_id, period)
    raw_bytes = sum(p.stat().st_size for p in raw_parts)
    small = raw_bytes < IN_PROCESS_BYTES
    summaries, seconds = [], {}
    started = time.perf_counter()
    with document_store.writing("filtered", contributor_id, period) as output:
        jobs = ((str(part), group, *map(str, output.reserve("docs", "index")), tokenizer.encoding, tokenizer.count_raw,
                 JOB_CHARS) for part, group in document_store.row_groups("raw_submission", contributor_id, period))
        for batch_summaries, steps in workers.map(preprocess_row_group, jobs, in_process=small):
            summaries += batch_summaries
            for step, value in steps.items():
                seconds[step] = seconds.get(step, 0.0) + value
    wall = time.perf_counter() - started
    if raw_bytes >= RELEASE_WORKERS_BYTES:
        workers.release()
    return MaterializeResult(
        metadata={
            **combine_summaries(summaries),
            "seconds": round(wall, 2),
            "cpu_seconds": MetadataValue.json({s: round(seconds.get(s, 0.0), 3) for s in STEPS}),
            "CPU seconds by step": MetadataValue.md(
                markdown_table(["step", "seconds"], [[s, round(seconds.get(s, 0.0), 2)] for s in STEPS])
            ),
        }
    )


@asset(
    group_name=GROUP,
    partitions_def=submission_partitions,
    deps=["filtered", "reference_corpus"],
    kinds={"duckdb"},
    pool="duckdb",
)
def deduped(context: AssetExecutionContext, warehouse: Warehouse, document_store: DocumentStore) -> MaterializeResult:
    """Which of the month's documents earn credit: not a copy or near copy of the reference corpus, and the
    earliest submission of its text, exact or near, across every contributor and month (ties: contributor
    id, file name, position).

    Writes one row per document to the `documents` table with its status, the rule that decided it, a
    plain-words reason and the document it duplicates. MinHash signatures go into a persistent LSH index in
    the warehouse, so a new submission is compared with everything before it without reprocessing the pool;
    credit is then re-ranked over the whole warehouse, so the outcome never depends on the order partitions
    were processed in.
    """
    contributor_id, period = _partition(context)
    docs = [str(p) for p in document_store.parts("filtered", contributor_id, period, "docs")]
    index = [str(p) for p in document_store.parts("filtered", contributor_id, period, "index")]
    clock = Stopwatch()
    with warehouse.connection() as conn, transaction(conn):
        clock.lap("connect")
        store_competing_hashes(conn, "_affected", contributor_id, period)  # before: credit they held is released
        # The documents of withdrawn uploads are kept, marked (onett_assets/withdrawals.py); the rest are replaced.
        withdrawn = keep_withdrawn_documents(conn, contributor_id, period)
        conn.execute("DELETE FROM documents WHERE contributor_id = ? AND period = ? AND withdrawn_at IS NULL",
                     [contributor_id, period])
        conn.execute("DELETE FROM pii_masks WHERE contributor_id = ? AND period = ?", [contributor_id, period])
        # The new documents stay in their Parquet parts until their status is decided, then are inserted once.
        store_competing_hashes(conn, "_competing", contributor_id, period)  # withdrawn documents still compete
        if docs:
            conn.read_parquet(docs).create_view("_filtered", replace=True)
            conn.execute("INSERT INTO _competing SELECT DISTINCT content_hash FROM _filtered WHERE rejected_by = ''")
            conn.execute(PII_FROM_PARQUET)
        clock.lap("documents")
        indexed = index_signatures(conn, index)
        clock.lap("near index")
        near = find_near_pairs(conn, "_competing")
        clock.lap("near pairs")
        reference_matches = match_reference(conn, contributor_id, period)
        store_competing_hashes(conn, "_affected", contributor_id, period, replace=False)  # and after
        if docs:
            conn.execute(INCOMING)  # view `_incoming`: the new documents as judged so far
            (new_matches,), = conn.execute("SELECT count(*) FROM _incoming WHERE status = 'reference'").fetchall()
            reference_matches += new_matches
            conn.execute(f"INSERT INTO _affected SELECT DISTINCT content_hash FROM _incoming "
                         f"WHERE status IN {COMPETING}")
        clock.lap("reference match")
        moved = rerank(conn, "_affected", incoming="_incoming" if docs else None)
        conn.execute("DROP TABLE _affected; DROP TABLE _competing; DROP TABLE _reference_hits")
        if docs:
            conn.execute("DROP VIEW _incoming; DROP VIEW _filtered")
        clock.lap("credit")
        others = [p for p in moved if p != (contributor_id, period)]
        refresh_funnel(conn, others)
        clock.lap("other funnels")
        status = conn.execute(
            """SELECT CASE WHEN withdrawn_at IS NULL THEN status ELSE 'withdrawn' END, count(*),
                      coalesce(sum(tokens), 0)::BIGINT FROM documents
               WHERE contributor_id = ? AND period = ? GROUP BY 1 ORDER BY 1""",
            [contributor_id, period],
        ).fetchall()
    clock.lap("commit")
    counts = {s: (n, t) for s, n, t in status}
    if others:
        context.log.info(f"credit moved in other partitions, their funnels were refreshed: {others}")
    return MaterializeResult(
        metadata={
            "documents in": sum(n for s, (n, _) in counts.items() if s not in ("rejected", "withdrawn")),
            "documents of withdrawn files (kept, no longer earning)": counts.get("withdrawn", (0, 0))[0],
            "documents withdrawn by this run": withdrawn,
            "texts added to the near-duplicate index": indexed,
            "near-duplicate pairs found": near,
            "reference matches": reference_matches,
            "exact duplicates": counts.get("duplicate", (0, 0))[0],
            "near duplicates": counts.get("near_duplicate", (0, 0))[0],
            "documents accepted": counts.get("accepted", (0, 0))[0],
            "tokens accepted": counts.get("accepted", (0, 0))[1],
            "other partitions re-credited": MetadataValue.md(
                "\n".join(f"- {c} {p:%Y-%m}" for c, p in others) or "none"
            ),
            "seconds by step": MetadataValue.json(clock.rounded()),
        }
    )


PII_FROM_PARQUET = f"""
INSERT INTO pii_masks BY NAME
SELECT contributor_id, period, file, kind, values_masked FROM (
    UNPIVOT (SELECT contributor_id, period, file, {", ".join(f"sum({k})::BIGINT AS {k.removeprefix('pii_')}" for k in PII_KINDS)}
             FROM _filtered GROUP BY ALL)
    ON {", ".join(k.removeprefix("pii_") for k in PII_KINDS)} INTO NAME kind VALUE values_masked
) WHERE values_masked > 0
"""
REFERENCE_REASON = "'text the consumer already has or that is public (' || r.reference_id || ')'"
NEAR_REFERENCE_REASON = ("'near copy (similarity ' || round(r.similarity, 2) || ') of text the consumer already has '"
                         "|| 'or that is public (' || r.reference_id || ')'")
# The partition's new documents as `documents` rows, judged by the filters and the reference match: what the
# first-come re-rank (credit.py) starts from.
INCOMING = f"""
CREATE OR REPLACE TEMP VIEW _incoming AS
SELECT f.contributor_id, f.period, f.file, f.position, f.doc_id, f.submitted_at, f.content_hash, f.raw_tokens,
       f.tokens, f.language, f.filter_group,
       CASE WHEN f.rejected_by <> '' THEN 'rejected' WHEN r.content_hash IS NOT NULL THEN 'reference'
            ELSE 'accepted' END AS status,
       CASE WHEN f.rejected_by <> '' OR r.content_hash IS NULL THEN f.reason
            WHEN r.exact THEN {REFERENCE_REASON} ELSE {NEAR_REFERENCE_REASON} END AS reason,
       CASE WHEN f.rejected_by <> '' OR r.content_hash IS NULL THEN f.rejected_by ELSE 'reference_match' END AS rule,
       CASE WHEN f.rejected_by <> '' OR r.content_hash IS NULL THEN ''
            ELSE 'reference:' || r.reference_id END AS duplicate_of,
       CASE WHEN f.rejected_by <> '' OR r.content_hash IS NULL THEN NULL ELSE r.similarity END AS similarity,
       NULL::TIMESTAMPTZ AS withdrawn_at, NULL::TIMESTAMPTZ AS earns_from
FROM _filtered f LEFT JOIN _reference_hits r USING (content_hash)
"""


def match_reference(conn, contributor_id: str, period: date) -> int:
    """Finds the partition's competing texts (table `_competing`) equal or near to a reference document: table
    `_reference_hits` (the exact match, else the most similar near one; ties by reference id), which view
    `_incoming` reads for the new documents. The partition's documents already in the warehouse (its withdrawn
    ones) are updated here; returns how many of them match."""
    conn.execute(
        """
        CREATE OR REPLACE TEMP TABLE _reference_hits AS
        SELECT content_hash, reference_id, similarity, exact FROM (
            SELECT content_hash, min(reference_id) AS reference_id, 1.0::DOUBLE AS similarity, TRUE AS exact
            FROM reference_documents JOIN _competing USING (content_hash) GROUP BY 1
            UNION ALL
            SELECT n.content_hash, arg_min(ref.reference_id, (-n.similarity, ref.reference_id)), max(n.similarity),
                   FALSE
            FROM near_pairs n JOIN _competing USING (content_hash)
            JOIN reference_documents ref ON ref.content_hash = n.other_hash
            GROUP BY 1
        ) QUALIFY row_number() OVER (PARTITION BY content_hash ORDER BY exact DESC) = 1
        """
    )
    stored = conn.execute(
        f"""
        UPDATE documents d SET status = 'reference', rule = 'reference_match', similarity = r.similarity,
               reason = CASE WHEN r.exact THEN {REFERENCE_REASON} ELSE {NEAR_REFERENCE_REASON} END,
               duplicate_of = 'reference:' || r.reference_id
        FROM _reference_hits r
        WHERE d.content_hash = r.content_hash AND d.contributor_id = ? AND d.period = ? AND d.status = 'accepted'
        RETURNING d.position
        """,
        [contributor_id, period],
    ).fetchall()
    return len(stored)


@asset(
    group_name=GROUP,
    partitions_def=submission_partitions,
    deps=["deduped"],
    kinds={"duckdb"},
    pool="duckdb",
)
def token_counts(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    """The contributor's token funnel for the month: documents and tokens left after each stage, ending
    with the accepted tokens that count toward T_i. Written to the `token_funnel` table."""
    contributor_id, period = _partition(context)
    with warehouse.connection() as conn, transaction(conn):
        refresh_funnel(conn, [(contributor_id, period)])
        rows = funnel_rows(conn, contributor_id, period)
        files = conn.execute(
            # the files now in the landing zone (withdrawn ones are kept for the record, not part of the input)
            "SELECT file, bytes, mtime_ns FROM submissions WHERE contributor_id = ? AND period = ? AND withdrawn_at IS NULL",
            [contributor_id, period],
        ).fetchall()
        reference = conn.execute("SELECT fingerprint FROM reference_state").fetchone()
    descriptions = {s.name: s.description for s in STAGES}
    accepted = dict((stage, (docs, tokens)) for stage, docs, tokens in rows).get("accepted", (0, 0))
    return MaterializeResult(
        metadata={
            "accepted documents": accepted[0],
            "accepted tokens": accepted[1],
            "funnel": MetadataValue.md(
                markdown_table(["stage", "documents", "tokens", "meaning"],
                               [[s, d, t, descriptions[s]] for s, d, t in rows])
            ),
            # What this result was computed from: the sensor and `onett ingest` compare it with the landing zone.
            "input_fingerprint": partition_fingerprint(files, reference[0] if reference else ""),
            "computed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
    )

