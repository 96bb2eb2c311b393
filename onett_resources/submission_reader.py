"""Reading one submission (a contributor's uploads of one month) into raw document parts.

Each upload is read as a stream into Parquet parts of about `batch_chars` characters of text (one preprocessing
job each), its bytes are archived once read, and what became of it becomes its `uploads` row. A broken record is
skipped and reported with its line, never the whole file; the same bytes uploaded twice in a month (any names) are
read once, from the earliest upload. An upload waits, unread, while its terms are not settled (no accepted agreement,
a malformed sidecar), and bytes the contributor had erased are never read again."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Callable

import polars as pl

from onett_domain.uploads import UPLOAD_SCHEMA, Upload, earliest_by_content
from onett_resources.consent import Admission
from onett_resources.document_store import PartitionWriter
from onett_resources.durable import file_sha256
from onett_resources.formats import ReadResult, Record
from onett_resources.landing_zone import LandingZone
from onett_resources.upload_archive import UploadArchive

RAW_SCHEMA = {
    "contributor_id": pl.String,
    "period": pl.Date,
    "file": pl.String,
    "position": pl.Int64,
    "doc_id": pl.String,
    "submitted_at": pl.Datetime("us", "UTC"),
    "text": pl.String,
}


@dataclass
class SubmissionRead:
    uploads: pl.DataFrame  # one row per upload (UPLOAD_SCHEMA)
    documents: int = 0
    problems: list[str] = field(default_factory=list)


def read_submission(contributor_id: str, period: date, uploads: list[Upload], landing_zone: LandingZone,
                    archive: UploadArchive, output: PartitionWriter, batch_chars: int, admission: Admission,
                    progress: Callable[[int, int], None] | None = None) -> SubmissionRead:
    hashes = {u.file: _sha256(u) for u in uploads}
    decisions = {u.file: admission.terms(u) for u in uploads}
    readable = [u for u in uploads if decisions[u.file].terms and hashes[u.file] not in admission.erased]
    first = earliest_by_content(readable, hashes)
    rows, documents = [], 0
    with landing_zone.document_reader() as reader:  # one worker process reads every document of the submission
        for upload in uploads:
            sha256, decision = hashes[upload.file], decisions[upload.file]
            terms = decision.terms.to_json() if decision.terms else ""
            first_at, first_file = first.get(sha256, (upload.submitted_at, upload.file))
            if sha256 and sha256 in admission.erased:
                status, error, result, notes = "erased", "", ReadResult(), admission.erased[sha256]
            elif decision.terms is None:
                status, error, result, notes = "waiting", decision.waiting, ReadResult(), ""
            elif sha256 and (first_at, first_file) < (upload.submitted_at, upload.file):
                status, error, result = "duplicate upload", "", ReadResult()
                notes = f"identical to {first_file} (uploaded {first_at:%Y-%m-%d %H:%M} UTC): its documents count once"
            else:
                part = output.part("docs")

                def sink(records: list[Record], at: datetime = upload.submitted_at, part=part) -> None:
                    frame = _records_frame(records, contributor_id, period, at)
                    part.write(frame)
                    if progress is not None:  # (bytes of text, documents) read so far
                        progress(int(frame["text"].str.len_bytes().sum()), frame.height)

                result, file_error, sha256 = landing_zone.read(upload, sha256 or None, sink=sink,
                                                               batch_chars=batch_chars, documents=reader)
                status, error = result.verdict(file_error)
                if status != "rejected" and not archive.keep(contributor_id, upload.path, sha256):
                    status = "rejected"
                    error = f"{upload.file}: changed while it was being archived; it is read again once complete"
                    result = ReadResult()
                if status == "rejected" or result.documents == 0:
                    part.discard()
                else:
                    part.close()
                notes = "; ".join(result.notes)
            documents += result.documents
            rows.append({
                "contributor_id": contributor_id, "period": period, "file": upload.file, "sha256": sha256,
                "bytes": upload.size, "submitted_at": upload.submitted_at, "status": status, "error": error,
                "docs_read": result.documents, "docs_skipped": result.skipped, "mtime_ns": upload.mtime_ns,
                "notes": notes, "terms": terms, "terms_stamp": upload.terms_stamp,
                "consent": admission.consent if decision.needs_agreement else "",
            })
    frame = pl.DataFrame(rows, schema=UPLOAD_SCHEMA)
    return SubmissionRead(frame, documents, [r["error"] for r in rows if r["error"]])


def _sha256(upload: Upload) -> str:
    """'' for a symlink or a file gone meanwhile: it is recorded and refused when read."""
    try:
        if upload.is_symlink:
            raise FileNotFoundError
        return file_sha256(upload.path)
    except FileNotFoundError:
        return ""


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
