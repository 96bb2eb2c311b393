"""Readers for the upload formats: every file becomes (position, doc_id, text) records plus problems.

Documents (PDF, HWP, HWPX, DOCX, EPUB, HTML) are read into text by `onett_resources.extraction` in its worker
process; how each was read (reader, pages or sections read and skipped, running headers removed) becomes a note.

A problem (a broken line, a row without text, an oversized record) skips that record only and is reported
with its location, so one bad line never costs a contributor the rest of the file. A problem with the whole
file (binary content, an unknown encoding, a zip bomb) raises `UnsupportedFormat` with a specific reason.

Everything streams: compressed data is inflated in bounded chunks and never beyond the configured limits.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Callable, Iterator

import polars as pl

from onett_resources.encodings import UnsupportedFormat, decode_text, sniff_encoding
from onett_resources.extraction import DOCUMENT_SUFFIXES, Extraction
from onett_resources.extraction.worker import ExtractionWorker

# Documents are long (a court decision can exceed the csv module's default 128 KiB field limit).
csv.field_size_limit(2**31 - 1)

TEXT_SUFFIXES = (".txt", ".md")
SUPPORTED_SUFFIXES = (".jsonl", ".jsonl.gz", ".txt", ".md", ".csv", ".parquet", ".zip", *DOCUMENT_SUFFIXES)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What one upload may expand to. Documented in the README; set from the environment."""

    max_document_bytes: int = 16 << 20  # one record (a JSONL line, a text file, a CSV field)
    max_unpacked_bytes: int = 4 << 30  # everything inflated from one archive or .gz file
    max_compression_ratio: int = 200  # inflated / compressed bytes of one archive member or .gz file
    split_sections: bool = False  # a document's chapters/sections become documents of their own


@dataclass
class Record:
    file: str
    position: int
    doc_id: str | None
    text: str


class StorageFailed(Exception):
    """What was read could not be kept (its records, or the private copy a document is read from): the platform's own
    storage failed, not the file. It is never taken for a corrupt file or archive member, so an upload is not
    reported broken (or read in part) for a full disk."""


@dataclass
class ReadResult:
    """What was read from one file. With a `sink`, records are handed over in batches of about `batch_bytes` of
    text as they are read (so a file of any size is read in bounded memory) and `records` holds only the batch
    not handed over yet; `documents` counts them all."""

    records: list[Record] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped: int = 0
    notes: list[str] = field(default_factory=list)  # how the file was read (an encoding other than UTF-8, ...)
    sink: Callable[[list[Record]], None] | None = None
    batch_bytes: int = 32 << 20
    documents: int = 0
    _pending_chars: int = 0

    def add(self, record: Record) -> None:
        self.records.append(record)
        self.documents += 1
        self._pending_chars += len(record.text)
        if self.sink is not None and self._pending_chars >= self.batch_bytes:
            self.flush()

    def flush(self) -> None:
        if self.sink is not None and self.records:
            try:
                self.sink(self.records)
            except Exception as exc:
                raise StorageFailed(f"{exc.__class__.__name__}: {exc}") from exc
            self.records, self._pending_chars = [], 0

    def skip(self, where: str, why: str) -> None:
        self.skipped += 1
        self.problems.append(f"{where}: {why}")

    def verdict(self, file_error: str | None) -> tuple[str, str]:
        """The file's status (accepted, partially accepted, rejected) and a specific reason ("" if none)."""
        if not self.documents:
            return "rejected", file_error or "; ".join(self.problems[:5]) or "no documents found in the file"
        if file_error or self.skipped:
            details = "; ".join(([file_error] if file_error else []) + self.problems[:5])
            return "partially accepted", (f"{self.skipped} record(s) skipped: " if self.skipped else "") + details
        return "accepted", ""


class _Bounded(io.RawIOBase):
    """A stream that refuses to yield more than `limit` bytes: inflating a bomb stops at the limit."""

    def __init__(self, inner: IO[bytes], limit: int, what: str):
        self.inner, self.limit, self.what, self.read_so_far = inner, limit, what, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.inner.read(min(len(buffer), self.limit - self.read_so_far + 1))
        self.read_so_far += len(data)
        if self.read_so_far > self.limit:
            raise UnsupportedFormat(self.what)
        buffer[: len(data)] = data
        return len(data)


def _bounded(inner: IO[bytes], limit: int, what: str) -> IO[bytes]:
    return io.BufferedReader(_Bounded(inner, limit, what), buffer_size=_CHUNK)


def format_of(name: str) -> str | None:
    lower = name.lower()
    for suffix in SUPPORTED_SUFFIXES:
        if lower.endswith(suffix):
            return suffix
    return None


def read_stream(name: str, stream: IO[bytes], result: ReadResult, limits: Limits = Limits(), depth: int = 0,
                documents: ExtractionWorker | None = None, path: Path | None = None) -> None:
    """Read one file (or archive member) called `name` from a binary stream into `result`. Documents are read by
    `documents` (from `path` when the stream is that file, else from a private copy of the stream)."""
    kind = format_of(name)
    if kind is None:
        raise UnsupportedFormat(
            f"{name}: unsupported file type (expected one of {', '.join(SUPPORTED_SUFFIXES)})"
        )
    if kind == ".zip":
        if depth > 0:
            raise UnsupportedFormat(f"{name}: archives inside archives are not read")
        _read_zip(name, stream, result, limits, documents)
    elif kind in DOCUMENT_SUFFIXES:
        _read_document(name, kind, stream, path, result, limits, documents)
    elif kind in TEXT_SUFFIXES:
        data = stream.read(limits.max_document_bytes + 1)
        if len(data) > limits.max_document_bytes:
            raise UnsupportedFormat(f"{name}: a single document larger than {limits.max_document_bytes >> 20} MB")
        text, encoding = decode_text(data, name)
        _note_encoding(result, name, encoding)
        result.add(Record(name, 0, None, text))
    elif kind == ".jsonl":
        _read_jsonl(name, stream, result, limits)
    elif kind == ".jsonl.gz":
        compressed = _Counting(stream)
        inflated = _ratio_guard(gzip.GzipFile(fileobj=compressed), compressed, limits, name)
        _read_jsonl(name, inflated, result, limits)
    elif kind == ".csv":
        _read_csv(name, stream, result, limits)
    elif kind == ".parquet":
        _read_parquet(name, stream, result, limits)


def _read_document(name: str, kind: str, stream: IO[bytes], path: Path | None, result: ReadResult, limits: Limits,
                   documents: ExtractionWorker | None) -> None:
    if documents is None:
        raise UnsupportedFormat(f"{name}: documents ({', '.join(DOCUMENT_SUFFIXES)}) are read only by ingest")
    try:
        if path is not None:
            extraction = documents.extract(path, kind)
        else:
            with _stored(tempfile.TemporaryDirectory, prefix="onett-document-") as folder:  # 0700: stays private
                copy = Path(folder) / f"document{kind}"
                with _stored(open, copy, "wb") as handle:
                    while chunk := stream.read(_CHUNK):  # reading fails for the file's sake, writing for ours
                        _stored(handle.write, chunk)
                    _stored(handle.flush)
                extraction = documents.extract(copy, kind)
    except UnsupportedFormat as exc:
        raise UnsupportedFormat(f"{name}: {exc}") from None
    _add_extraction(name, extraction, result, limits)


def _stored(write: Callable, *args, **kwargs):
    """`write(...)`, whose failure is the platform's storage failing: `StorageFailed`."""
    try:
        return write(*args, **kwargs)
    except OSError as exc:
        raise StorageFailed(f"{exc.__class__.__name__}: {exc}") from exc


def _add_extraction(name: str, extraction: Extraction, result: ReadResult, limits: Limits) -> None:
    """The document as one record (or one per section with `split_sections`); text beyond the size of one record
    is cut at paragraph boundaries into parts, and the note says so."""
    sections = [s for s in extraction.sections if s.text.strip()]
    if not sections:
        raise UnsupportedFormat(f"{name}: no text in the document ({extraction.provenance()})")
    units = [(s.title or None, s.text) for s in sections] if limits.split_sections else [(None, extraction.text)]
    position, cut = 0, 0
    for title, text in units:
        pieces = _pieces(text, limits.max_document_bytes)
        cut += len(pieces) - 1
        for piece in pieces:
            result.add(Record(name, position, title, piece))
            position += 1
    note = f"{name}: {extraction.provenance()}"
    if limits.split_sections and len(units) > 1:
        note += f"; {len(units)} {extraction.unit} read as documents of their own"
    if cut:
        note += f"; cut at paragraph boundaries into parts of at most {limits.max_document_bytes >> 20} MB"
    result.notes.append(note)


def _pieces(text: str, limit: int) -> list[str]:
    """`text` in consecutive parts of at most `limit` characters, cut after a paragraph (else a line, else hard)."""
    pieces = []
    while len(text) > limit:
        cut = text.rfind("\n\n", 0, limit)
        cut = cut if cut > limit // 2 else text.rfind("\n", 0, limit)
        cut = cut if cut > limit // 2 else limit
        pieces.append(text[:cut].strip())
        text = text[cut:]
    return [*pieces, text.strip()] if text.strip() else pieces


def _note_encoding(result: ReadResult, name: str, encoding: str) -> None:
    if encoding not in ("utf-8", "utf-8-sig"):
        result.notes.append(f"{name}: read as {encoding}")


def _lines(stream: IO[bytes], limit: int) -> Iterator[tuple[int, bytes | None]]:
    """Lines as bytes with their numbers; a line longer than `limit` is consumed and yielded as None."""
    number = 0
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while (rest := stream.readline(_CHUNK)) and not rest.endswith(b"\n"):
                pass
            yield number, None
        else:
            yield number, line


def _read_jsonl(name: str, stream: IO[bytes], result: ReadResult, limits: Limits) -> None:
    buffered = stream if hasattr(stream, "peek") else io.BufferedReader(stream, buffer_size=_CHUNK)  # type: ignore[arg-type]
    encoding = sniff_encoding(buffered.peek(64 << 10)[: 64 << 10], name)
    _note_encoding(result, name, encoding)
    if encoding.startswith(("utf-16", "utf-32")):
        # Multi-byte newlines: let Python's decoder find the lines (rare; such files are small in practice).
        text = io.TextIOWrapper(buffered, encoding=encoding, errors="strict")
        lines = ((n, line.encode("utf-8")) for n, line in enumerate(text, start=1))
        encoding = "utf-8"
    else:
        lines = _lines(buffered, limits.max_document_bytes)
    for number, raw in lines:
        where = f"{name} line {number}"
        if raw is None:
            result.skip(where, f"line longer than {limits.max_document_bytes >> 20} MB")
            continue
        try:
            line = raw.decode("utf-8-sig" if number == 1 and encoding == "utf-8" else encoding).strip()
        except UnicodeDecodeError:
            result.skip(where, f"not valid {encoding} text")
            continue
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            result.skip(where, f"broken JSON ({exc.msg})")
            continue
        _add_object(result, name, number, obj, where)


def _add_object(result: ReadResult, name: str, position: int, obj: object, where: str) -> None:
    if not isinstance(obj, dict):
        result.skip(where, "not a JSON object")
        return
    text = obj.get("text")
    if not isinstance(text, str):
        result.skip(where, "missing or non-string 'text'" if text is None else "'text' is not a string")
        return
    doc_id = obj.get("id")
    result.add(Record(name, position, None if doc_id is None else str(doc_id), text))


def _read_csv(name: str, stream: IO[bytes], result: ReadResult, limits: Limits) -> None:
    buffered = io.BufferedReader(stream, buffer_size=_CHUNK) if not hasattr(stream, "peek") else stream  # type: ignore[arg-type]
    encoding = sniff_encoding(buffered.peek(64 << 10)[: 64 << 10], name)
    _note_encoding(result, name, encoding)
    reader = csv.DictReader(io.TextIOWrapper(buffered, encoding=encoding, errors="strict", newline=""))
    try:
        fieldnames = reader.fieldnames
    except UnicodeDecodeError as exc:
        raise UnsupportedFormat(f"{name}: not valid {encoding} text ({exc.reason})") from None
    if not fieldnames or "text" not in fieldnames:
        raise UnsupportedFormat(f"{name}: CSV has no 'text' column (header: {fieldnames})")
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            raise UnsupportedFormat(f"{name} line {reader.line_num}: malformed CSV ({exc})") from None
        except UnicodeDecodeError as exc:
            raise UnsupportedFormat(f"{name} near line {reader.line_num}: not valid {encoding} text ({exc.reason})") from None
        where = f"{name} line {reader.line_num}"
        value = row.get("text")
        if value is None or None in row:
            result.skip(where, "row does not match the header")
            continue
        if len(value) > limits.max_document_bytes:
            result.skip(where, f"text longer than {limits.max_document_bytes >> 20} MB")
            continue
        result.add(Record(name, reader.line_num, row.get("id") or None, value))


def _read_parquet(name: str, stream: IO[bytes], result: ReadResult, limits: Limits) -> None:
    data = stream.read(limits.max_unpacked_bytes + 1)
    if len(data) > limits.max_unpacked_bytes:
        raise UnsupportedFormat(f"{name}: Parquet file larger than {limits.max_unpacked_bytes >> 20} MB")
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:  # polars raises several error types for corrupt files
        raise UnsupportedFormat(f"{name}: unreadable Parquet ({exc.__class__.__name__})") from None
    if "text" not in frame.columns:
        raise UnsupportedFormat(f"{name}: Parquet has no 'text' column (columns: {frame.columns})")
    if frame.schema["text"] not in (pl.String, pl.Null):
        raise UnsupportedFormat(f"{name}: the Parquet 'text' column holds {frame.schema['text']}, not text")
    ids = frame["id"].cast(pl.String).to_list() if "id" in frame.columns else [None] * frame.height
    for row, (doc_id, text) in enumerate(zip(ids, frame["text"].to_list()), start=1):
        if not isinstance(text, str):
            result.skip(f"{name} row {row}", "null or non-string 'text'")
            continue
        result.add(Record(name, row, doc_id, text))


class _Counting(io.RawIOBase):
    """Counts the compressed bytes consumed, for the compression-ratio guard."""

    def __init__(self, inner: IO[bytes]):
        self.inner, self.count = inner, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.inner.read(len(buffer))
        self.count += len(data)
        buffer[: len(data)] = data
        return len(data)


class _RatioGuard(io.RawIOBase):
    def __init__(self, inflated: IO[bytes], compressed: _Counting | None, compressed_size: int | None,
                 limits: Limits, name: str):
        self.inflated, self.compressed, self.compressed_size = inflated, compressed, compressed_size
        self.limits, self.name, self.total = limits, name, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.inflated.read(len(buffer))
        self.total += len(data)
        consumed = self.compressed.count if self.compressed is not None else self.compressed_size or 0
        if self.total > self.limits.max_unpacked_bytes:
            raise UnsupportedFormat(
                f"{self.name}: expands beyond {self.limits.max_unpacked_bytes >> 20} MB (possible zip bomb)")
        if self.total > (1 << 20) and self.total > self.limits.max_compression_ratio * max(consumed, 1):
            raise UnsupportedFormat(
                f"{self.name}: compression ratio above {self.limits.max_compression_ratio}:1 (possible zip bomb)")
        buffer[: len(data)] = data
        return len(data)


def _ratio_guard(inflated: IO[bytes], compressed: _Counting | None, limits: Limits, name: str,
                 compressed_size: int | None = None) -> IO[bytes]:
    return io.BufferedReader(_RatioGuard(inflated, compressed, compressed_size, limits, name), buffer_size=_CHUNK)


def _safe_member_name(info: zipfile.ZipInfo) -> str | None:
    """The member's path if it is a plain relative path; None for absolute paths and `..` escapes."""
    raw = info.filename.replace("\\", "/")
    path = PurePosixPath(raw)
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":") or ".." in path.parts:
        return None
    return path.as_posix()


def _read_zip(name: str, stream: IO[bytes], result: ReadResult, limits: Limits,
              documents: ExtractionWorker | None) -> None:
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise UnsupportedFormat(f"{name}: not a readable zip archive") from None
    unpacked = 0
    with archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            member = _safe_member_name(info)
            if member is None:
                result.skip(f"{name}/{info.filename}", "member path is absolute or leaves the archive ('..'); not read")
                continue
            parts = PurePosixPath(member).parts
            if any(part.startswith(".") or part == "__MACOSX" for part in parts):
                continue
            inner = f"{name}/{member}"
            if unpacked + info.file_size > limits.max_unpacked_bytes:
                result.skip(inner, f"archive expands beyond {limits.max_unpacked_bytes >> 20} MB; the rest is not read")
                break
            try:
                with archive.open(info) as member_stream:
                    guarded = _ratio_guard(member_stream, None, limits, inner, compressed_size=info.compress_size)
                    read_stream(inner, guarded, result, limits, depth=1, documents=documents)
            except UnsupportedFormat as exc:
                result.skip(inner, str(exc).removeprefix(f"{inner}: "))
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as exc:  # corrupt member, encrypted, ...
                result.skip(inner, f"could not be read ({exc.__class__.__name__}: {exc})")
            unpacked += info.file_size
