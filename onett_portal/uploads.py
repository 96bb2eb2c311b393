"""Uploads from the browser into a landing folder, and the state of each file afterwards.

A file is streamed straight to `<folder>/.upload-<random>.part` (a name the landing-zone scanner ignores),
counted against the size limit as it arrives (never buffered whole), fsynced, and only then given its final
name with a hard link, which fails instead of overwriting: an earlier upload of the same name is never
replaced, the new one becomes `name (2).ext`. The sensor therefore only ever sees complete files. An upload
with terms gets its terms sidecar (`<name>.terms.json`) the same way, before the upload itself is named, so the
pipeline never sees an upload without the terms it was given under."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from onett_domain.terms import SIDECAR_SUFFIX
from onett_domain.uploads import Upload
from onett_portal.auth import same_token
from onett_resources.durable import fsync
from onett_resources.formats import SUPPORTED_SUFFIXES, format_of
from onett_resources.revenue import RevenueError, RevenueSource

MAX_FILES_PER_REQUEST = 100
MAX_NAME_BYTES = 200
MAX_FIELDS = 50

log = logging.getLogger(__name__)


class UploadError(Exception):
    """The whole request is refused (bad form, CSRF, a file over the limit)."""

    def __init__(self, code: str, status: int = 400, **params):
        super().__init__(code)
        self.code, self.status, self.params = code, status, params


@dataclass
class FileResult:
    original: str
    saved_as: str | None = None
    bytes: int = 0
    sha256: str = ""
    error: str | None = None  # an i18n key
    params: dict = field(default_factory=dict)


def landing_suffixes() -> tuple[str, ...]:
    return SUPPORTED_SUFFIXES


def safe_name(raw: str) -> str:
    """The file name alone (no folders), NFC, without control characters or a leading dot; '' if nothing is left."""
    name = unicodedata.normalize("NFC", raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if not unicodedata.category(c).startswith("C")).strip().lstrip(".").strip()
    while len(name.encode()) > MAX_NAME_BYTES:
        stem, suffix = split_suffix(name)
        if not stem:
            return ""
        name = stem[:-1] + suffix
    return name


def split_suffix(name: str) -> tuple[str, str]:
    kind = format_of(name)
    if kind:
        return name[: -len(kind)], name[-len(kind):]
    stem, dot, ext = name.rpartition(".")
    return (stem, dot + ext) if stem else (name, "")


def _name_new(src: Path, target: Path) -> bool:
    """Give `src` the name `target` unless that name is taken (then False, and `src` stays as it was)."""
    try:
        os.link(src, target)
    except FileExistsError:
        return False
    except OSError:  # a filesystem without hard links: rename, having checked the name is free
        if target.exists() or target.is_symlink():
            return False
        os.rename(src, target)
        return True
    os.unlink(src)
    return True


def _synced_temporary(folder: Path, data: bytes) -> Path:
    tmp = folder / f".terms-{secrets.token_hex(8)}.part"
    with open(tmp, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return tmp


def place(tmp: Path, folder: Path, name: str, sidecar: bytes | None = None) -> str:
    """Give the complete temporary file its final name without ever replacing an existing file. With `sidecar`,
    `<final name>.terms.json` is written (temporary name, fsync, then named) before the upload is named; a name
    whose sidecar is taken is skipped, so two uploads of the same name never share or swap terms."""
    stem, suffix = split_suffix(name)
    # Names are compared as ingest knows them (NFC): a decomposed name written by macOS takes its composed twin.
    present = {unicodedata.normalize("NFC", n) for n in os.listdir(folder)}
    for n in range(1, 10_000):
        candidate = name if n == 1 else f"{stem} ({n}){suffix}"
        target = folder / candidate
        terms = folder / (candidate + SIDECAR_SUFFIX)
        if candidate in present or candidate + SIDECAR_SUFFIX in present:
            continue
        if sidecar is not None:
            if target.exists() or target.is_symlink():
                continue
            terms_tmp = _synced_temporary(folder, sidecar)
            try:
                named = _name_new(terms_tmp, terms)
            finally:
                terms_tmp.unlink(missing_ok=True)
            if not named:
                continue
            fsync(folder)
        try:
            if _name_new(tmp, target):
                fsync(folder)
                return candidate
        except BaseException:
            if sidecar is not None:  # no terms left behind for an upload that was not saved
                terms.unlink(missing_ok=True)
            raise
        if sidecar is not None:
            terms.unlink()
    raise UploadError("name_taken", name=name)


class _Part:
    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.field: str = ""
        self.filename: str | None = None
        self.data = bytearray()
        self.handle = None
        self.tmp: Path | None = None
        self.digest = hashlib.sha256()
        self.size = 0
        self.result: FileResult | None = None


async def receive(request: Request, folder: Path, *, csrf: str, max_bytes: int, allowed: Callable[[str], bool],
                  accept: Callable[[Path, str], str | None] | None = None,
                  terms: Callable[[dict[str, str]], bytes | None] | None = None) -> list[FileResult]:
    """Stream every file of a multipart request into `folder`. `allowed(name)` says whether a name may be
    uploaded; `accept(tmp, name)` may check the complete file and return an i18n key to refuse it.
    CSRF: the X-CSRF-Token header or a `csrf` field sent before the first file. `terms(fields)` gets the form
    fields sent before the first file, before anything is written: it returns the sidecar to write beside every
    file (None: none) or raises UploadError to refuse the whole request."""
    ctype, options = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in options:
        raise UploadError("bad_form")
    csrf_ok = same_token(request.headers.get("x-csrf-token", ""), csrf)
    folder.mkdir(parents=True, exist_ok=True)
    if folder.is_symlink():
        raise UploadError("bad_folder", status=500)

    results: list[FileResult] = []
    open_parts: list[_Part] = []
    finished: list[_Part] = []
    state = {"part": _Part(), "name": b"", "value": b""}
    fields: dict[str, str] = {}
    chosen: dict[str, bytes | None] = {}

    def on_part_begin() -> None:
        state["part"] = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["name"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["part"].headers.append((state["name"].lower(), state["value"]))
        state["name"], state["value"] = b"", b""

    def on_headers_finished() -> None:
        part: _Part = state["part"]
        disposition = dict(part.headers).get(b"content-disposition", b"")
        _, params = parse_options_header(disposition)
        part.field = params.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in params:
            return
        part.filename = params[b"filename"].decode("utf-8", "replace")
        if not part.filename:  # a file input left empty
            return
        if not csrf_ok:
            raise UploadError("csrf", status=403)
        if terms is not None and "sidecar" not in chosen:
            chosen["sidecar"] = terms(dict(fields))
        if len(results) >= MAX_FILES_PER_REQUEST:
            raise UploadError("too_many_files", limit=MAX_FILES_PER_REQUEST)
        name = safe_name(part.filename)
        part.result = FileResult(part.filename)
        results.append(part.result)
        if not name:
            part.result.error = "bad_name"
        elif not allowed(name):
            part.result.error, part.result.params = "type_not_allowed", {"name": name}
        else:
            part.result.saved_as = name  # the wished-for name until it is placed
            part.tmp = folder / f".upload-{secrets.token_hex(8)}.part"
            part.handle = open(part.tmp, "xb")
            open_parts.append(part)

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part: _Part = state["part"]
        chunk = data[start:end]
        if part.filename is None:
            if len(part.data) + len(chunk) > 4096:
                raise UploadError("bad_form")
            part.data.extend(chunk)
        elif part.handle is not None:
            part.size += len(chunk)
            if part.size > max_bytes:
                raise UploadError("too_large", status=413, name=part.result.saved_as, mb=max_bytes >> 20)
            part.handle.write(chunk)
            part.digest.update(chunk)

    def on_part_end() -> None:
        nonlocal csrf_ok
        part: _Part = state["part"]
        if part.filename is None:
            if len(fields) >= MAX_FIELDS:
                raise UploadError("bad_form")
            fields[part.field] = part.data.decode("utf-8", "replace")
            if part.field == "csrf":
                csrf_ok = csrf_ok or same_token(fields["csrf"], csrf)
        elif part.handle is not None:
            finished.append(part)

    def finish(part: _Part) -> None:
        part.handle.flush()
        os.fsync(part.handle.fileno())
        part.handle.close()
        part.handle = None
        result = part.result
        result.bytes, result.sha256 = part.size, part.digest.hexdigest()
        if part.size == 0:
            result.error, result.params, result.saved_as = "empty_file", {"name": result.saved_as}, None
        elif accept is not None and (refusal := accept(part.tmp, result.saved_as)):
            result.error, result.params, result.saved_as = "refused", {"name": result.saved_as, "reason": refusal}, None
        else:
            result.saved_as = place(part.tmp, folder, result.saved_as, chosen.get("sidecar"))
        if part.tmp.exists():
            part.tmp.unlink()
        open_parts.remove(part)

    parser = MultipartParser(options[b"boundary"], {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data, "on_part_end": on_part_end,
    })
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            while finished:
                await run_in_threadpool(finish, finished.pop(0))
        parser.finalize()
        while finished:
            await run_in_threadpool(finish, finished.pop(0))
    except UploadError as exc:
        exc.results = _placed(results)
        raise
    except OSError as exc:  # writing the files: the platform's storage (a full disk), never the contributor's form
        log.error("an upload into %s could not be stored: %s", folder, exc)
        failed = UploadError("storage_failed", status=503)
        failed.results = _placed(results)
        raise failed from exc
    except Exception as exc:  # a broken form or a dropped connection: nothing half-written stays
        raise UploadError("bad_form") from exc
    finally:
        for part in list(open_parts):
            if part.handle is not None:
                part.handle.close()
            if part.tmp is not None and part.tmp.exists():
                part.tmp.unlink()
    return results



def _placed(results: list[FileResult]) -> list[FileResult]:
    """The files of a refused request already under their final name: they stay, and are reported."""
    return [r for r in results if r.saved_as and not r.error and r.sha256]


def landing_allowed(name: str) -> bool:
    return format_of(name) is not None


def revenue_allowed(name: str) -> bool:
    return name.lower().endswith(".csv")


def revenue_acceptor(revenue_dir: Path) -> Callable[[Path, str], str | None]:
    """Checks an uploaded usage CSV with the pipeline's own reader before it goes live: the header, every
    row, and no day already reported in another file. Returns the reason to refuse it, or None."""

    def accept(tmp: Path, name: str) -> str | None:
        with tempfile.TemporaryDirectory() as scratch:
            shutil.copyfile(tmp, Path(scratch) / "upload.csv")
            try:
                days = RevenueSource(path=scratch).days()
            except (RevenueError, UnicodeDecodeError) as exc:
                return str(exc).replace("upload.csv", name)
        if not days:
            return "no days in the file"
        try:
            existing = {d.date: d.source_file for d in RevenueSource(path=str(revenue_dir)).days()}
        except RevenueError as exc:
            return f"the revenue folder has an error to fix first: {exc}"
        clashes = [d for d in days if d.date in existing]
        if clashes:
            d = clashes[0]
            return f"{d.date} is already reported in {existing[d.date]} ({len(clashes)} day(s) in all)"
        return None

    return accept


# ---- what became of each file -------------------------------------------------------------------------

def _recorded_state(r: dict, active_periods: set[date]) -> str:
    # A run writes the file's `uploads` row first and its documents a few steps later: until the run
    # is over the numbers are not final.
    half_done = r["status"] in ("accepted", "partially accepted") and r["docs_read"] and not r["documents"]
    if r["period"] in active_periods or half_done:
        return "processing"
    # The pipeline's `waiting` (no accepted agreement, or a bad terms sidecar) waits on the contributor, not on the
    # sensor: a state of its own, so the page does not poll for it.
    return "held" if r["status"] == "waiting" else r["status"]


def file_states(landing: list[Upload], recorded: list[dict], active_periods: set[date], tz, first_period: date) -> list[dict]:
    """One row per file: from the warehouse's `uploads` when it has read this version of the file (but
    `processing` while a run for its month is under way), else `processing` or `waiting` (the sensor has not
    picked it up yet)."""
    by_version = {(r["file"], r["mtime_ns"]): r for r in recorded}
    rows = []
    for f in landing:
        period = f.period(tz, first_period)
        r = by_version.pop((f.file, f.mtime_ns), None)
        if r is not None and r["bytes"] == f.size:
            rows.append({**r, "state": _recorded_state(r, active_periods), "present": True})
        else:
            rows.append({"file": f.file, "period": period, "bytes": f.size, "submitted_at": f.submitted_at,
                         "state": "processing" if period in active_periods else "waiting", "error": "", "notes": "",
                         "accepted_tokens": 0, "accepted_docs": 0, "documents": 0, "docs_read": 0, "docs_skipped": 0,
                         "present": True})
    present = {f.file for f in landing}
    for r in by_version.values():  # read before and no longer in the folder (withdrawn, or being withdrawn)
        if r["file"] not in present:  # (an older version of a file still there is about to be replaced)
            rows.append({**r, "state": _recorded_state(r, active_periods), "present": False})
    return sorted(rows, key=lambda r: (r["submitted_at"], r["file"]), reverse=True)


class RunWatcher:
    """Which months of a contributor have an ingest run queued or under way, from the Dagster instance."""

    def __init__(self) -> None:
        self._instance = None

    def active_periods(self, contributor_id: str) -> set[date]:
        try:
            from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

            if self._instance is None:
                self._instance = DagsterInstance.get()
            runs = self._instance.get_runs(RunsFilter(
                job_name="ingest_submission",
                statuses=[DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
                          DagsterRunStatus.STARTED],
                tags={"dagster/partition/contributor": contributor_id}), limit=50)
            return {date.fromisoformat(r.tags["dagster/partition/period"]) for r in runs
                    if "dagster/partition/period" in r.tags}
        except Exception:  # no instance or a busy one: the files simply show as waiting
            return set()
