"""Per submission (contributor x month): raw_submission -> filtered -> deduped -> token_counts."""

import time
from datetime import datetime, timezone
from functools import partial

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    asset,
)

from onett_assets.metadata import bullets, table
from onett_assets.partitions import Partitions, split_submission_key
from onett_assets.progress import Progress
from onett_domain import credit
from onett_domain.credit import bucket_index, key_shards, signature_files
from onett_domain.funnel import DESCRIPTIONS, funnel_rows, refresh_funnel
from onett_domain.policy import Policy
from onett_domain.reference import reference_fingerprint
from onett_domain.uploads import fingerprint, record_uploads
from onett_resources import (ConsentRegistry, DiskRoom, DocumentStore, LandingZone, Tokenizer, UploadArchive, Warehouse,
                             Workers)
from onett_resources.disk_room import NotEnoughRoom
from onett_resources.parquet_parts import verify_parts
from onett_resources.preprocessing_jobs import preprocess_row_group
from onett_resources.submission_reader import read_submission
from onett_resources.warehouse import transaction
from onett_text.pipeline import STEP_NAMES, PipelineStats

GROUP = "ingest"

JOB_CHARS = 2 << 20  # text per raw batch, i.e. per preprocessing job: spreads a submission over the workers and
# bounds a worker's memory
IN_PROCESS_BYTES = 1 << 20  # compressed raw Parquet below which starting workers costs more than it saves
# After a submission this large (compressed raw Parquet, about 200 MB of JSONL) the workers are stopped, so the
# warehouse step that follows has their memory (docs/memory.md); restarting them is little next to its filtering.
RELEASE_WORKERS_BYTES = 64 << 20


def ingest_assets(partitions: Partitions) -> list[AssetsDefinition]:
    @asset(group_name=GROUP, partitions_def=partitions.submissions, kinds={"parquet"}, pool="duckdb")
    def raw_submission(context: AssetExecutionContext, landing_zone: LandingZone, policy: ResourceParam[Policy],
                       warehouse: Warehouse, upload_archive: UploadArchive, document_store: DocumentStore,
                       consent: ConsentRegistry) -> MaterializeResult:
        """Every document in the files a contributor uploaded during the month, exactly as uploaded.

        Files are read from the landing zone (`<contributor>/<file>`); a file belongs to the month of its
        modification time in the platform time zone. Documents (PDF, HWP, HWPX, DOCX, EPUB, HTML) are read into
        clean text in a child process, each under a time and memory limit. Each upload is recorded in the `uploads`
        table with what became of it and how it was read; a broken record is skipped and reported with its line,
        never the whole file. The bytes of
        every accepted upload are kept immutably by content hash; a file the contributor already uploaded (same
        bytes, any name) is recorded as a duplicate upload and not read again. Documents are streamed to Parquet in
        batches, so an upload of any size is read in bounded memory. Uploads read before and now gone stay
        recorded, as withdrawn. An upload is read only under settled terms (an accepted agreement, a valid terms
        sidecar); until then it waits, recorded with the reason."""
        contributor_id, period = split_submission_key(context.partition_key)
        problem = landing_zone.folder_problem(contributor_id)
        if problem is not None:  # never read as "every file withdrawn"
            raise Failure(f"{problem}; the submission is left as it was until the folder is back")
        uploads = landing_zone.uploads_for(contributor_id, period, policy.tz, policy.first_period)
        admission = consent.admission(contributor_id, uploads, landing_zone.sidecar)
        if upload_archive.has_legacy():  # copies kept before encryption: sealed for every contributor that sent them
            with warehouse.connection() as conn:
                pairs = conn.execute(
                    "SELECT DISTINCT contributor_id, sha256 FROM uploads WHERE sha256 <> ''").fetchall()
            context.log.info(f"archive: {upload_archive.migrate_legacy(pairs)} plaintext copies sealed")
        with document_store.writing("raw_submission", contributor_id, period) as output:
            progress = Progress(context, f"raw_submission {contributor_id} {period:%Y-%m}")
            read = read_submission(contributor_id, period, uploads, landing_zone, upload_archive, output, JOB_CHARS,
                                   admission, progress.advance)
            with warehouse.connection() as conn, transaction(conn):
                withdrawn = record_uploads(conn, contributor_id, period, read.uploads, observed_at())
        files = read.uploads
        return MaterializeResult(metadata={
            "files": len(uploads),
            "bytes": sum(u.size for u in uploads),
            "documents": read.documents,
            "records skipped": int(files["docs_skipped"].sum()),
            "files rejected": int((files["status"] == "rejected").sum()),
            "files waiting for terms": int((files["status"] == "waiting").sum()),
            "files withdrawn": bullets(withdrawn),
            "problems": bullets(read.problems),
            "files read": table(["file", "status", "documents", "skipped", "error", "how it was read"],
                                files.select("file", "status", "docs_read", "docs_skipped", "error", "notes").rows()),
        })

    @asset(group_name=GROUP, partitions_def=partitions.submissions, deps=[raw_submission], kinds={"polars", "parquet"})
    def filtered(context: AssetExecutionContext, document_store: DocumentStore, workers: Workers,
                 tokenizer: Tokenizer, disk_room: DiskRoom) -> MaterializeResult:
        """The month's documents normalized (Unicode NFC, invisible characters removed, whitespace tidied), with
        personal data masked, their language identified, and judged by the quality rules. Every document stays with
        the rule that rejected it and a plain-words `reason`, so a contributor can see why a document earns nothing.
        Tokens are counted here, once, on the text that would be paid for; kept texts get their MinHash signature
        for the near-duplicate index. Each written batch of raw_submission is one job for the workers (every core),
        which write their output parts themselves; every batch meets the documents' data contract."""
        contributor_id, period = split_submission_key(context.partition_key)
        raw_bytes = sum(p.stat().st_size for p in document_store.parts("raw_submission", contributor_id, period))
        # A submission the disk cannot hold stops here, before the bulk of its bytes, not on a full disk hours later.
        try:
            expected = disk_room.check(raw_bytes, f"{contributor_id} {period:%Y-%m}")
        except NotEnoughRoom as exc:
            raise Failure(str(exc)) from None
        stats, started = PipelineStats(), time.perf_counter()
        cluster = workers.connect()  # an unreachable engine stops the step here, before anything is written
        groups = document_store.row_groups("raw_submission", contributor_id, period)
        progress = Progress(context, f"filtered {contributor_id} {period:%Y-%m}", sum(size for *_, size in groups))
        with document_store.writing("filtered", contributor_id, period) as output:
            jobs = ((str(part), group, *map(str, output.reserve("docs", "index", "passages")), tokenizer.encoding,
                     tokenizer.count_raw, JOB_CHARS) for part, group, _ in groups)
            batches = (cluster.map(preprocess_row_group, jobs) if cluster else
                       workers.map(preprocess_row_group, jobs, in_process=raw_bytes < IN_PROCESS_BYTES))
            for batch, (_, _, size) in zip(batches, groups):  # in job order
                stats = stats + batch
                progress.advance(size, batch.steps[0].documents if batch.steps else 0)
        wall = time.perf_counter() - started
        workers.done(release=raw_bytes >= RELEASE_WORKERS_BYTES)
        engine = {"engine": workers.engine()}
        if cluster:
            engine["jobs by engine node"] = MetadataValue.json(dict(sorted(cluster.nodes.items())))
        return MaterializeResult(metadata={**_filtered_metadata(stats), "seconds": round(wall, 2), **engine,
                                           "disk room asked (MB)": round(expected / 2**20, 1)})

    @asset(group_name=GROUP, partitions_def=partitions.submissions, deps=[filtered, "reference_corpus"],
           kinds={"duckdb"}, pool="duckdb")
    def deduped(context: AssetExecutionContext, warehouse: Warehouse, document_store: DocumentStore,
                workers: Workers, policy: ResourceParam[Policy]) -> MaterializeResult:
        """Which of the month's documents earn credit: not a copy or near copy of the reference corpus, and the
        earliest submission of its text, exact or near, across every contributor and month (ties: contributor id,
        file name, position).

        Writes one row per document to the `documents` table with its status, the rule that decided it, a
        plain-words reason and the document it duplicates. MinHash signatures go into a persistent LSH index in the
        warehouse, so a new submission is compared with everything before it without reprocessing the pool; credit
        is then re-decided for everything the submission touches, so the outcome never depends on the order
        submissions were processed in (onett_domain/credit)."""
        contributor_id, period = split_submission_key(context.partition_key)
        documents = [str(p) for p in document_store.parts("filtered", contributor_id, period, "docs")]
        index = [str(p) for p in document_store.parts("filtered", contributor_id, period, "index")]
        passages = [str(p) for p in document_store.parts("filtered", contributor_id, period, "passages")]
        # DuckDB reads them without checking their pages: a damaged one stops here
        verify_parts(documents + index + passages)
        cluster = workers.connect()  # with an engine, the near-duplicate candidate search runs on it shard by shard
        started = time.perf_counter()
        with warehouse.connection() as conn, transaction(conn):
            connected = time.perf_counter()
            progress = Progress(context, f"deduped {contributor_id} {period:%Y-%m}")
            outcome = credit.decide(conn, contributor_id, period, documents, index, policy.tz, passages,
                                    cluster.map if cluster else None, progress.step)
            decided = time.perf_counter()
        seconds = {"connect": round(connected - started, 3), **outcome.seconds,
                   "commit": round(time.perf_counter() - decided, 3)}
        if outcome.others_moved:
            context.log.info(f"credit moved in other submissions, their funnels were refreshed: {outcome.others_moved}")
        return MaterializeResult(metadata={
            "documents in": sum(n for s, (n, _) in outcome.by_status.items() if s not in ("rejected", "withdrawn")),
            "documents of withdrawn files (kept, no longer earning)": outcome.documents("withdrawn"),
            "documents withdrawn by this run": outcome.withdrawn,
            "texts added to the near-duplicate index": outcome.indexed,
            "near-duplicate pairs found": outcome.near_pairs,
            "texts added to the passage index": outcome.passage_texts,
            "reference matches": outcome.reference_matches,
            "exact duplicates": outcome.documents("duplicate"),
            "near duplicates": outcome.documents("near_duplicate"),
            "documents accepted": outcome.documents("accepted"),
            "tokens accepted": outcome.tokens("accepted"),
            "other partitions re-credited": bullets([f"{c} {p:%Y-%m}" for c, p in outcome.others_moved]),
            "seconds by step": MetadataValue.json(seconds),
            "engine": workers.engine() if cluster else "in this process",
            **({"jobs by engine node": MetadataValue.json(dict(sorted(cluster.nodes.items())))} if cluster else {}),
        })

    @asset(group_name=GROUP, partitions_def=partitions.submissions, deps=[deduped], kinds={"duckdb"}, pool="duckdb")
    def token_counts(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
        """The contributor's token funnel for the month: documents and tokens left after each stage, ending with the
        accepted tokens that count toward T_i. Written to the `token_funnel` table."""
        contributor_id, period = split_submission_key(context.partition_key)
        with warehouse.connection() as conn, transaction(conn):
            refresh_funnel(conn, [(contributor_id, period)])
            rows = funnel_rows(conn, contributor_id, period)
            files = conn.execute(  # the uploads now in the landing zone (withdrawn ones are kept for the record)
                "SELECT file, bytes, mtime_ns, coalesce(terms_stamp, ''), coalesce(consent, '') FROM uploads "
                "WHERE contributor_id = ? AND period = ? AND withdrawn_at IS NULL", [contributor_id, period]).fetchall()
            reference = reference_fingerprint(conn)
        accepted = {stage: (docs, tokens) for stage, docs, tokens in rows}.get("accepted", (0, 0))
        return MaterializeResult(metadata={
            "accepted documents": accepted[0],
            "accepted tokens": accepted[1],
            "funnel": table(["stage", "documents", "tokens", "meaning"],
                            [[s, d, t, DESCRIPTIONS[s]] for s, d, t in rows]),
            # What this result was computed from: the sensor and `onett ingest` compare it with the landing zone.
            "input_fingerprint": fingerprint([f[:4] for f in files], reference, max((f[4] for f in files), default="")),
            "computed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        })

    @asset(group_name=GROUP, deps=[deduped, "erasures"], kinds={"duckdb", "parquet"}, pool="duckdb")
    def near_duplicate_index(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
        """The near-duplicate index's band-bucket shards merged by size (files of one size four at a time), after
        the submissions that added them rather than inside their transactions: a submission writes one small file
        per shard and never waits for a merge, so its run and its hold on the warehouse follow its own size. Every
        file's rows are then sorted by bucket beside it, for the next submissions' lookups, and the texts indexed
        since are copied to the signature files their candidate verification reads."""
        started = time.perf_counter()
        with warehouse.connection() as conn:
            with transaction(conn):  # the signatures are copied while the bucket files are sorted
                done = bucket_index.compact(conn, meanwhile=partial(signature_files.update, conn))
                copied = done["meanwhile"]
            removed = (bucket_index.sweep(conn) + signature_files.sweep(conn)  # what nothing names now
                       + key_shards.sweep(conn))
            (files, rows), = conn.execute("SELECT count(*), coalesce(sum(rows), 0) FROM near_index_files").fetchall()
            (signature_count,), = conn.execute("SELECT count(*) FROM signature_files").fetchall()
        return MaterializeResult(metadata={
            "merges": done["merges"],
            "rows rewritten": done["rows rewritten"],
            "files sorted for lookups": done["files sorted"],
            "signatures copied to signature files": copied["signatures written"],
            "signature files merged": copied["files merged"],
            "files removed": removed,
            "files": files,
            "bucket rows": int(rows),
            "signature files": signature_count,
            "seconds": round(time.perf_counter() - started, 2),
        })

    return [raw_submission, filtered, deduped, token_counts, near_duplicate_index]


def observed_at() -> datetime:
    """When this run looked at the landing zone: the time a withdrawal is recorded at."""
    return datetime.now(timezone.utc)


def _filtered_metadata(stats: PipelineStats) -> dict:
    summary = stats.summary()
    cpu = stats.cpu_seconds()
    return {
        "documents in": summary["documents"],
        "tokens in": summary["raw_tokens"],
        "tokens after normalization and masking": summary["tokens"],
        "documents kept": summary["kept_documents"],
        "tokens kept": summary["kept_tokens"],
        "personal data masked": table(["kind", "values masked"],
                                      [[k.removeprefix("pii_"), n] for k, n in summary["pii"].items()]),
        "languages": table(["language", "documents", "tokens"], summary["languages"], empty="none"),
        "removed by rule": table(["stage", "rule", "documents", "tokens"], summary["rules"], empty="nothing removed"),
        "cpu_seconds": MetadataValue.json({s: round(cpu.get(s, 0.0), 3) for s in STEP_NAMES}),
        "CPU seconds by step": table(["step", "seconds"], [[s, round(cpu.get(s, 0.0), 2)] for s in STEP_NAMES]),
    }
