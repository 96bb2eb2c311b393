"""Uploads: the files a contributor puts in their landing folder. All uploads of one contributor in one month
make that month's submission (the Dagster partition contributor x month); the `uploads` table keeps one row per
file with what became of it.

Withdrawal: an upload is one version of a file, (file, modification time, size). A read upload (accepted or
partially accepted) that is no longer in the landing zone when its submission is processed again keeps its row,
with status `withdrawn` and `withdrawn_at` = the time of that run; its documents are kept too, marked with the same
time (credit.py), and stop earning from then on. Later runs never touch a withdrawn row again, so the first
withdrawal time stays. A file rewritten or touched in place is a new upload, so its earlier version is withdrawn;
a file that comes back under the same name is read as a new upload. Uploads that never had documents (rejected
files, symlinks, duplicate uploads of the same bytes) are simply forgotten when they disappear.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import polars as pl

from onett_domain import sql
from onett_domain.periods import month_of_instant
from onett_domain.sql import insert_frame

SQL = Path(__file__).with_name("sql")

STATUSES = ("accepted", "partially accepted", "rejected", "duplicate upload", "withdrawn", "waiting", "erased")
READ_STATUSES = ("accepted", "partially accepted")  # uploads whose documents were read: only these are withdrawn

# Dagster joins multi-partition keys with "|"; a contributor id must not contain it.
FORBIDDEN_IN_CONTRIBUTOR_ID = ("|", ",", "/", "\\", "\n", "\r", "\t")

UPLOAD_SCHEMA = {
    "contributor_id": pl.String, "period": pl.Date, "file": pl.String, "sha256": pl.String, "bytes": pl.Int64,
    "submitted_at": pl.Datetime("us", "UTC"), "status": pl.String, "error": pl.String,
    "docs_read": pl.Int64, "docs_skipped": pl.Int64, "mtime_ns": pl.Int64, "notes": pl.String,
    "terms": pl.String, "terms_stamp": pl.String, "consent": pl.String,
}


CONTRIBUTOR_ID_RULE = ("a contributor id (a landing folder name) must not be empty, start with a dot or a space, "
                       "nor contain | , / \\ or control characters, and has at most 200 characters")


def valid_contributor_id(contributor_id: str) -> bool:
    """The one definition, for the landing zone, the portal and the command line: nothing that splits a partition
    key, hides a folder, or reaches an operator's terminal as an escape sequence."""
    return (bool(contributor_id) and len(contributor_id) <= 200 and contributor_id == contributor_id.strip()
            and not contributor_id.startswith(".")
            and not any(c in FORBIDDEN_IN_CONTRIBUTOR_ID or unicodedata.category(c)[0] in "CZ" and c != " "
                        for c in contributor_id))


@dataclass(frozen=True)
class Upload:
    """A file found in the landing zone (`<contributor_id>/<file>`)."""

    contributor_id: str  # NFC: macOS writes Korean folder names decomposed
    file: str  # path inside the contributor's folder, POSIX separators
    path: Path
    size: int
    mtime_ns: int
    is_symlink: bool = False  # recorded and refused, never followed
    terms_stamp: str = ""  # "<size>:<mtime_ns>" of its terms sidecar (`<file>.terms.json`), '' without one

    @property
    def submitted_at(self) -> datetime:
        """The upload's submission time: its modification time, exact to the microsecond (no float rounding)."""
        seconds, nanos = divmod(self.mtime_ns, 10**9)
        return datetime.fromtimestamp(seconds, tz=timezone.utc) + timedelta(microseconds=nanos // 1000)

    def period(self, tz: ZoneInfo, first_period: date) -> date:
        """The month of its submission time in the platform time zone (never before the first month)."""
        return month_of_instant(self.submitted_at, tz, first_period)

    def age_seconds(self, now: float) -> float:
        return now - self.mtime_ns / 1e9


def fingerprint(files: list[tuple[str, int, int, str]], reference_fingerprint: str, consent: str = "") -> str:
    """What a submission's result was computed from: its files as (name, size, mtime_ns, terms sidecar stamp), the
    reference corpus and the contributor's accepted agreements. Changes whenever a file is added, removed, renamed,
    rewritten or touched, its terms change, or an acceptance lets a waiting upload be read."""
    digest = hashlib.sha256(f"reference\t{reference_fingerprint}\n".encode())
    if consent:
        digest.update(f"consent\t{consent}\n".encode())
    for name, size, mtime_ns, terms_stamp in sorted(files):
        digest.update(f"{name}\t{size}\t{mtime_ns}".encode() + (f"\t{terms_stamp}" if terms_stamp else "").encode()
                      + b"\n")
    return digest.hexdigest()


def earliest_by_content(uploads: list[Upload], hashes: dict[str, str]) -> dict[str, tuple[datetime, str]]:
    """The same bytes uploaded twice in a month (any names) are read once: for each content hash, the
    (submitted_at, file) of its earliest upload. `hashes`: file -> sha256 ('' for a file that could not be hashed)."""
    first: dict[str, tuple[datetime, str]] = {}
    for upload in uploads:
        sha256 = hashes.get(upload.file, "")
        key = (upload.submitted_at, upload.file)
        if sha256 and (sha256 not in first or key < first[sha256]):
            first[sha256] = key
    return first


def record_uploads(conn: duckdb.DuckDBPyConnection, contributor_id: str, period: date, present: pl.DataFrame,
                   now: datetime) -> list[str]:
    """Replaces the submission's `uploads` rows by `present` (the uploads now in the landing zone), after marking
    the read uploads that are gone as withdrawn at `now`; returns the files withdrawn. Call inside a transaction."""
    conn.register("_present", present.select("file", "mtime_ns", "bytes").to_arrow())
    try:
        withdrawn = sql.execute(conn, sql.load(SQL, "withdraw_uploads"),
                                {"at": now, "contributor": contributor_id, "period": period})
    finally:
        conn.unregister("_present")
    conn.execute("DELETE FROM uploads WHERE contributor_id = ? AND period = ? AND withdrawn_at IS NULL",
                 [contributor_id, period])
    insert_frame(conn, "uploads", present)
    return sorted(f for (f,) in withdrawn)
