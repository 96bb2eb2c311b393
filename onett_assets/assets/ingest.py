"""Per (contributor, month): raw_submission -> filtered -> deduped -> token_counts."""


from datetime import date, datetime, timezone

import polars as pl
from dagster import (
    AssetDep,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    Output,
    asset,
)

from onett_assets.credit import competing_hashes, rerank
from onett_assets.funnel import STAGES, funnel_rows, refresh_funnel
from onett_assets.partitions import split_submission_key, submission_partitions
from onett_assets.preprocessing.filters import apply_rules
from onett_assets.preprocessing.hashing import content_hash
from onett_assets.preprocessing.normalize import normalize_text
from onett_assets.reporting import markdown_table
from onett_resources import LandingZone, Platform, Tokenizer, Warehouse
from onett_resources.landing_zone import partition_fingerprint
from onett_resources.warehouse import transaction

GROUP = "ingest"

RAW_SCHEMA = {
    "contributor_id": pl.String,
    "period": pl.Date,
    "file": pl.String,
    "position": pl.Int64,
    "doc_id": pl.String,
    "submitted_at": pl.Datetime("us", "UTC"),
    "text": pl.String,
    "raw_tokens": pl.Int64,
}
DOCUMENT_FIELDS = ("file", "position", "doc_id", "submitted_at", "text")
SUBMISSION_SCHEMA = {
    "contributor_id": pl.String, "period": pl.Date, "file": pl.String, "sha256": pl.String, "bytes": pl.Int64,
    "submitted_at": pl.Datetime("us", "UTC"), "status": pl.String, "error": pl.String,
    "docs_read": pl.Int64, "docs_skipped": pl.Int64, "mtime_ns": pl.Int64,
}


def _partition(context: AssetExecutionContext) -> tuple[str, date]:
    return split_submission_key(context.partition_key)


@asset(
    group_name=GROUP,
    partitions_def=submission_partitions,
    io_manager_key="documents_io",
    kinds={"polars", "parquet"},
    pool="duckdb",
)
def raw_submission(
    context: AssetExecutionContext,
    landing_zone: LandingZone,
    tokenizer: Tokenizer,
    platform: Platform,
    warehouse: Warehouse,
) -> Output[pl.DataFrame]:
    """Every document in the files a contributor uploaded during the month, exactly as uploaded.

    Files are read from the landing zone (`<contributor>/<file>`); a file belongs to the month of its
    modification time in the platform time zone. Each file is recorded in the `submissions` table with
    what became of it; a broken record is skipped and reported with its line, never the whole file.
    """
    contributor_id, period = _partition(context)
    files = landing_zone.files_for(contributor_id, period, platform.tz, platform.first_period_date)
    documents, submissions = [], []
    for entry in files:
        result, file_error, sha256 = landing_zone.read(entry)
        status, error = result.verdict(file_error)
        submissions.append({
            "contributor_id": contributor_id, "period": period, "file": entry.file, "sha256": sha256,
            "bytes": entry.size, "submitted_at": entry.submitted_at, "status": status, "error": error,
            "docs_read": len(result.records), "docs_skipped": result.skipped, "mtime_ns": entry.mtime_ns,
        })
        documents += [
            {"file": r.file, "position": r.position, "doc_id": r.doc_id, "submitted_at": entry.submitted_at, "text": r.text}
            for r in result.records
        ]

    frame = pl.DataFrame(documents, schema={k: v for k, v in RAW_SCHEMA.items() if k in DOCUMENT_FIELDS})
    frame = frame.with_columns(
        contributor_id=pl.lit(contributor_id, pl.String),
        period=pl.lit(period, pl.Date),
        raw_tokens=pl.Series(tokenizer.count(frame["text"].to_list()), dtype=pl.Int64),
    ).select(list(RAW_SCHEMA))
    files_read = pl.DataFrame(submissions, schema=SUBMISSION_SCHEMA)

    with warehouse.connection() as conn, transaction(conn):
        conn.execute("DELETE FROM submissions WHERE contributor_id = ? AND period = ?", [contributor_id, period])
        conn.register("_files", files_read.to_arrow())
        conn.execute("INSERT INTO submissions BY NAME SELECT * FROM _files")
        conn.unregister("_files")

    problems = [s["error"] for s in submissions if s["error"]]
    return Output(
        frame,
        metadata={
            "files": len(files),
            "bytes": sum(f.size for f in files),
            "documents": frame.height,
            "tokens": int(frame["raw_tokens"].sum()),
            "records skipped": int(files_read["docs_skipped"].sum()),
            "files rejected": int((files_read["status"] == "rejected").sum()),
            "problems": MetadataValue.md("\n".join(f"- {p}" for p in problems[:50]) or "none"),
            "files read": MetadataValue.md(
                markdown_table(["file", "status", "documents", "skipped", "error"],
                               files_read.select("file", "status", "docs_read", "docs_skipped", "error").rows())
            ),
        },
    )


@asset(
    group_name=GROUP,
    partitions_def=submission_partitions,
    io_manager_key="documents_io",
    kinds={"polars", "parquet"},
)
def filtered(context: AssetExecutionContext, raw_submission: pl.DataFrame, tokenizer: Tokenizer) -> Output[pl.DataFrame]:
    """The month's documents normalized (Unicode NFC, invisible characters removed, whitespace tidied) and
    judged by the quality rules. Every document stays in the frame with `rejected_by` and a plain-words
    `reason`, so a contributor can see why a document earns nothing."""
    frame = raw_submission.with_columns(text=normalize_text(pl.col("text")))
    changed = frame["text"] != raw_submission["text"]
    tokens = raw_submission["raw_tokens"].to_list()
    if changed.any():
        indices = changed.arg_true().to_list()
        for i, count in zip(indices, tokenizer.count(frame["text"].gather(indices).to_list())):
            tokens[i] = count
    frame = apply_rules(frame.with_columns(tokens=pl.Series(tokens, dtype=pl.Int64)))
    frame = frame.with_columns(content_hash=content_hash(frame["text"]))
    kept = frame.filter(pl.col("rejected_by") == "")
    by_rule = frame.filter(pl.col("rejected_by") != "").group_by("rejected_by").agg(
        docs=pl.len(), tokens=pl.col("tokens").sum()
    ).sort("rejected_by")
    return Output(
        frame,
        metadata={
            "documents in": raw_submission.height,
            "tokens in": int(raw_submission["raw_tokens"].sum()),
            "tokens after normalization": int(frame["tokens"].sum()),
            "documents kept": kept.height,
            "tokens kept": int(kept["tokens"].sum()),
            "removed by rule": MetadataValue.md(
                markdown_table(["rule", "documents", "tokens"], by_rule.rows()) if by_rule.height else "nothing removed"
            ),
        },
    )


@asset(
    group_name=GROUP,
    partitions_def=submission_partitions,
    deps=["reference_corpus"],
    kinds={"duckdb"},
    pool="duckdb",
)
def deduped(context: AssetExecutionContext, filtered: pl.DataFrame, warehouse: Warehouse) -> MaterializeResult:
    """Which of the month's documents earn credit: not a copy of the reference corpus, and the earliest
    submission of its text across every contributor and month (ties: contributor id, file name, position).

    Writes one row per document to the `documents` table with its status and reason. Credit is re-ranked
    over the whole warehouse, so the outcome never depends on the order partitions were processed in.
    """
    contributor_id, period = _partition(context)
    documents = filtered.select(
        "contributor_id", "period", "file", "position", "doc_id", "submitted_at", "content_hash",
        "raw_tokens", "tokens",
        status=pl.when(pl.col("rejected_by") != "").then(pl.lit("rejected")).otherwise(pl.lit("accepted")),
        reason="reason",
        duplicate_of=pl.lit("", pl.String),
    )
    with warehouse.connection() as conn, transaction(conn):
        released = competing_hashes(conn, contributor_id, period)
        conn.execute("DELETE FROM documents WHERE contributor_id = ? AND period = ?", [contributor_id, period])
        conn.register("_incoming", documents.to_arrow())
        conn.execute("INSERT INTO documents BY NAME SELECT * FROM _incoming")
        conn.unregister("_incoming")
        reference_matches = conn.execute(
            """
            UPDATE documents d SET status = 'reference',
                   reason = 'matches text the consumer already has or that is public (' || r.reference_id || ')',
                   duplicate_of = 'reference:' || r.reference_id
            FROM (SELECT content_hash, min(reference_id) AS reference_id FROM reference_documents GROUP BY 1) r
            WHERE d.content_hash = r.content_hash AND d.contributor_id = ? AND d.period = ? AND d.status = 'accepted'
            RETURNING d.position
            """,
            [contributor_id, period],
        ).fetchall()
        moved = rerank(conn, released + competing_hashes(conn, contributor_id, period))
        others = [p for p in moved if p != (contributor_id, period)]
        refresh_funnel(conn, others)
        status = conn.execute(
            """SELECT status, count(*), coalesce(sum(tokens), 0)::BIGINT FROM documents
               WHERE contributor_id = ? AND period = ? GROUP BY 1 ORDER BY 1""",
            [contributor_id, period],
        ).fetchall()
    counts = {s: (n, t) for s, n, t in status}
    if others:
        context.log.info(f"credit moved in other partitions, their funnels were refreshed: {others}")
    return MaterializeResult(
        metadata={
            "documents in": int((filtered["rejected_by"] == "").sum()),
            "reference matches": len(reference_matches),
            "duplicates": counts.get("duplicate", (0, 0))[0],
            "documents accepted": counts.get("accepted", (0, 0))[0],
            "tokens accepted": counts.get("accepted", (0, 0))[1],
            "other partitions re-credited": MetadataValue.md(
                "\n".join(f"- {c} {p:%Y-%m}" for c, p in others) or "none"
            ),
        }
    )


@asset(
    group_name=GROUP,
    partitions_def=submission_partitions,
    deps=[AssetDep("deduped")],
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
            "SELECT file, bytes, mtime_ns FROM submissions WHERE contributor_id = ? AND period = ?",
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

