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
from onett_assets.near_index import find_near_pairs, index_texts
from onett_assets.preprocessing.filters import apply_rules
from onett_assets.preprocessing.language import detect_language
from onett_assets.preprocessing.hashing import content_hash
from onett_assets.preprocessing.normalize import normalize_text
from onett_assets.preprocessing.pii import PII_KINDS, mask_pii
from onett_assets.reporting import markdown_table
from onett_resources import LandingZone, Platform, Tokenizer, UploadArchive, Warehouse
from onett_resources.formats import ReadResult
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
    "raw_tokens": pl.Int64,
}
DOCUMENT_FIELDS = ("file", "position", "doc_id", "submitted_at", "text")
SUBMISSION_SCHEMA = {
    "contributor_id": pl.String, "period": pl.Date, "file": pl.String, "sha256": pl.String, "bytes": pl.Int64,
    "submitted_at": pl.Datetime("us", "UTC"), "status": pl.String, "error": pl.String,
    "docs_read": pl.Int64, "docs_skipped": pl.Int64, "mtime_ns": pl.Int64, "notes": pl.String,
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
    upload_archive: UploadArchive,
) -> Output[pl.DataFrame]:
    """Every document in the files a contributor uploaded during the month, exactly as uploaded.

    Files are read from the landing zone (`<contributor>/<file>`); a file belongs to the month of its
    modification time in the platform time zone. Each file is recorded in the `submissions` table with
    what became of it; a broken record is skipped and reported with its line, never the whole file. The
    bytes of every accepted file are kept immutably by content hash; a file the contributor already
    uploaded (same bytes, any name) is recorded as a duplicate upload and not read again.
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

    documents, submissions = [], []
    for entry in files:
        sha256 = hashes[entry.file]
        first_at, first_file = first_upload.get(sha256, (entry.submitted_at, entry.file))
        notes = ""
        if sha256 and (first_at, first_file) < (entry.submitted_at, entry.file):
            status, error, result = "duplicate upload", "", ReadResult()
            notes = f"identical to {first_file} (uploaded {first_at:%Y-%m-%d %H:%M} UTC): its documents count once"
        else:
            result, file_error, sha256 = landing_zone.read(entry, sha256 or None)
            status, error = result.verdict(file_error)
            if status != "rejected" and not upload_archive.keep(entry.path, sha256):
                status, error = "rejected", f"{entry.file}: changed while it was being archived; it is read again once complete"
                result = ReadResult()
            notes = "; ".join(result.notes)
        submissions.append({
            "contributor_id": contributor_id, "period": period, "file": entry.file, "sha256": sha256,
            "bytes": entry.size, "submitted_at": entry.submitted_at, "status": status, "error": error,
            "docs_read": len(result.records), "docs_skipped": result.skipped, "mtime_ns": entry.mtime_ns,
            "notes": notes,
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
        insert_frame(conn, "submissions", files_read)

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
    """The month's documents normalized (Unicode NFC, invisible characters removed, whitespace tidied),
    with personal data masked, their language identified, and judged by the quality rules. Every document
    stays in the frame with the rule that rejected it and a plain-words `reason`, so a contributor can see
    why a document earns nothing. Tokens are counted here, on the text that would be paid for."""
    frame = mask_pii(raw_submission.with_columns(text=normalize_text(pl.col("text"))))
    frame = frame.with_columns(
        tokens=recount_changed(raw_submission["text"], frame["text"], raw_submission["raw_tokens"], tokenizer)
    )
    frame = apply_rules(detect_language(frame))
    frame = frame.with_columns(content_hash=content_hash(frame["text"]))
    kept = frame.filter(pl.col("rejected_by") == "")
    by_rule = frame.filter(pl.col("rejected_by") != "").group_by("filter_group", "rejected_by").agg(
        docs=pl.len(), tokens=pl.col("tokens").sum()
    ).sort("filter_group", "rejected_by")
    masked = {kind: int(frame[kind].sum()) for kind in PII_KINDS}
    languages = frame.group_by("language").agg(docs=pl.len(), tokens=pl.col("tokens").sum()).sort("language")
    return Output(
        frame,
        metadata={
            "documents in": raw_submission.height,
            "tokens in": int(raw_submission["raw_tokens"].sum()),
            "tokens after normalization and masking": int(frame["tokens"].sum()),
            "documents kept": kept.height,
            "tokens kept": int(kept["tokens"].sum()),
            "personal data masked": MetadataValue.md(
                markdown_table(["kind", "values masked"], [[k.removeprefix("pii_"), n] for k, n in masked.items()])
            ),
            "languages": MetadataValue.md(markdown_table(["language", "documents", "tokens"], languages.rows())),
            "removed by rule": MetadataValue.md(
                markdown_table(["stage", "rule", "documents", "tokens"], by_rule.rows()) if by_rule.height else "nothing removed"
            ),
        },
    )


def recount_changed(before: pl.Series, after: pl.Series, counts: pl.Series, tokenizer: Tokenizer) -> pl.Series:
    """Token counts of `after`, re-tokenizing only the documents whose text changed: most do not."""
    tokens = counts.to_list()
    changed = (after != before).arg_true().to_list()
    for i, count in zip(changed, tokenizer.count(after.gather(changed).to_list())):
        tokens[i] = count
    return pl.Series("tokens", tokens, dtype=pl.Int64)


@asset(
    group_name=GROUP,
    partitions_def=submission_partitions,
    deps=["reference_corpus"],
    kinds={"duckdb"},
    pool="duckdb",
)
def deduped(context: AssetExecutionContext, filtered: pl.DataFrame, warehouse: Warehouse) -> MaterializeResult:
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
    documents = filtered.select(
        "contributor_id", "period", "file", "position", "doc_id", "submitted_at", "content_hash",
        "raw_tokens", "tokens", "language", "filter_group",
        status=pl.when(pl.col("rejected_by") != "").then(pl.lit("rejected")).otherwise(pl.lit("accepted")),
        reason="reason",
        rule="rejected_by",
        duplicate_of=pl.lit("", pl.String),
        similarity=pl.lit(None, pl.Float64),
    )
    competing = filtered.filter(pl.col("rejected_by") == "")
    pii = (
        filtered.group_by("file").agg([pl.col(k).sum() for k in PII_KINDS])
        .unpivot(index="file", variable_name="kind", value_name="values_masked")
        .filter(pl.col("values_masked") > 0)
        .with_columns(pl.col("kind").str.strip_prefix("pii_"), contributor_id=pl.lit(contributor_id),
                      period=pl.lit(period))
    )
    with warehouse.connection() as conn, transaction(conn):
        released = competing_hashes(conn, contributor_id, period)
        for table in ("documents", "pii_masks"):
            conn.execute(f"DELETE FROM {table} WHERE contributor_id = ? AND period = ?", [contributor_id, period])
        insert_frame(conn, "documents", documents)
        insert_frame(conn, "pii_masks", pii)
        indexed = index_texts(conn, competing["content_hash"].to_list(), competing["text"].to_list())
        near = find_near_pairs(conn, competing["content_hash"].unique().to_list())
        reference_matches = match_reference(conn, contributor_id, period)
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
            "documents in": competing.height,
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
        }
    )


def match_reference(conn, contributor_id: str, period: date) -> int:
    """Marks the partition's documents equal or near to a reference document; returns how many."""
    exact = conn.execute(
        """
        UPDATE documents d SET status = 'reference', rule = 'reference_match', similarity = 1.0,
               reason = 'text the consumer already has or that is public (' || r.reference_id || ')',
               duplicate_of = 'reference:' || r.reference_id
        FROM (SELECT content_hash, min(reference_id) AS reference_id FROM reference_documents GROUP BY 1) r
        WHERE d.content_hash = r.content_hash AND d.contributor_id = ? AND d.period = ? AND d.status = 'accepted'
        RETURNING d.position
        """,
        [contributor_id, period],
    ).fetchall()
    near = conn.execute(
        """
        UPDATE documents d SET status = 'reference', rule = 'reference_match', similarity = r.similarity,
               reason = 'near copy (similarity ' || round(r.similarity, 2) || ') of text the consumer already has '
                        || 'or that is public (' || r.reference_id || ')',
               duplicate_of = 'reference:' || r.reference_id
        FROM (
            SELECT n.content_hash, max(n.similarity) AS similarity,
                   arg_min(ref.reference_id, (-n.similarity, ref.reference_id)) AS reference_id
            FROM near_pairs n JOIN reference_documents ref ON ref.content_hash = n.other_hash
            GROUP BY 1
        ) r
        WHERE d.content_hash = r.content_hash AND d.contributor_id = ? AND d.period = ? AND d.status = 'accepted'
        RETURNING d.position
        """,
        [contributor_id, period],
    ).fetchall()
    return len(exact) + len(near)


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

