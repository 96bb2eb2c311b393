"""Readers for the upload formats: every file becomes (position, doc_id, text) records plus problems.

A problem (a broken line, a row without text) skips that record only and is reported with its location,
so one bad line never costs a contributor the rest of the file.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO

import polars as pl

# Documents are long (a court decision can exceed the csv module's default 128 KiB field limit).
csv.field_size_limit(2**31 - 1)

TEXT_SUFFIXES = (".txt", ".md")
SUPPORTED_SUFFIXES = (".jsonl", ".jsonl.gz", ".txt", ".md", ".csv", ".parquet", ".zip")


@dataclass
class Record:
    file: str
    position: int
    doc_id: str | None
    text: str


@dataclass
class ReadResult:
    records: list[Record] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped: int = 0

    def skip(self, where: str, why: str) -> None:
        self.skipped += 1
        self.problems.append(f"{where}: {why}")

    def verdict(self, file_error: str | None) -> tuple[str, str]:
        """The file's status (accepted, partially accepted, rejected) and a specific reason ("" if none)."""
        if not self.records:
            return "rejected", file_error or "; ".join(self.problems[:5]) or "no documents found in the file"
        if file_error or self.skipped:
            details = "; ".join(([file_error] if file_error else []) + self.problems[:5])
            return "partially accepted", (f"{self.skipped} record(s) skipped: " if self.skipped else "") + details
        return "accepted", ""


class UnsupportedFormat(ValueError):
    pass


def format_of(name: str) -> str | None:
    lower = name.lower()
    for suffix in SUPPORTED_SUFFIXES:
        if lower.endswith(suffix):
            return suffix
    return None


def decode(data: bytes, where: str) -> str:
    """UTF-8 (BOM optional). Legacy encodings are the bad-input issue's seam."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnsupportedFormat(f"{where}: not valid UTF-8 text (byte {exc.start})") from None


def read_stream(name: str, stream: IO[bytes], result: ReadResult) -> None:
    """Read one file (or archive member) called `name` from a binary stream into `result`."""
    kind = format_of(name)
    if kind is None:
        raise UnsupportedFormat(
            f"{name}: unsupported file type (expected one of {', '.join(SUPPORTED_SUFFIXES)})"
        )
    if kind == ".zip":
        _read_zip(name, stream, result)
    elif kind in TEXT_SUFFIXES:
        result.records.append(Record(name, 0, None, decode(stream.read(), name)))
    elif kind == ".jsonl":
        _read_jsonl(name, stream, result)
    elif kind == ".jsonl.gz":
        with gzip.GzipFile(fileobj=stream) as unzipped:
            _read_jsonl(name, unzipped, result)
    elif kind == ".csv":
        _read_csv(name, stream, result)
    elif kind == ".parquet":
        _read_parquet(name, stream, result)


def _read_jsonl(name: str, stream: IO[bytes], result: ReadResult) -> None:
    for number, raw in enumerate(stream, start=1):
        where = f"{name} line {number}"
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8").strip()
        except UnicodeDecodeError:
            result.skip(where, "not valid UTF-8")
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
    result.records.append(Record(name, position, None if doc_id is None else str(doc_id), text))


def _read_csv(name: str, stream: IO[bytes], result: ReadResult) -> None:
    text = decode(stream.read(), name)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames or "text" not in reader.fieldnames:
        raise UnsupportedFormat(f"{name}: CSV has no 'text' column (header: {reader.fieldnames})")
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            raise UnsupportedFormat(f"{name} line {reader.line_num}: malformed CSV ({exc})") from None
        where = f"{name} line {reader.line_num}"
        value = row.get("text")
        if value is None or None in row:
            result.skip(where, "row does not match the header")
            continue
        result.records.append(Record(name, reader.line_num, row.get("id") or None, value))


def _read_parquet(name: str, stream: IO[bytes], result: ReadResult) -> None:
    try:
        frame = pl.read_parquet(io.BytesIO(stream.read()))
    except Exception as exc:  # polars raises several error types for corrupt files
        raise UnsupportedFormat(f"{name}: unreadable Parquet ({exc.__class__.__name__})") from None
    if "text" not in frame.columns:
        raise UnsupportedFormat(f"{name}: Parquet has no 'text' column (columns: {frame.columns})")
    ids = frame["id"].cast(pl.String).to_list() if "id" in frame.columns else [None] * frame.height
    for row, (doc_id, text) in enumerate(zip(ids, frame["text"].to_list()), start=1):
        if not isinstance(text, str):
            result.skip(f"{name} row {row}", "null or non-string 'text'")
            continue
        result.records.append(Record(name, row, doc_id, text))


def _read_zip(name: str, stream: IO[bytes], result: ReadResult) -> None:
    try:
        archive = zipfile.ZipFile(stream)
    except zipfile.BadZipFile:
        raise UnsupportedFormat(f"{name}: not a readable zip archive") from None
    with archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            member = PurePosixPath(info.filename)
            if info.is_dir() or any(part.startswith(".") or part == "__MACOSX" for part in member.parts):
                continue
            inner = f"{name}/{member.as_posix()}"
            try:
                with archive.open(info) as member_stream:
                    read_stream(inner, member_stream, result)
            except UnsupportedFormat as exc:
                result.skip(inner, str(exc).removeprefix(f"{inner}: "))

