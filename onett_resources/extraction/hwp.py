"""HWP 5 documents (Hancom Office 한글, the format of Korean government and offices) read into text.

Our own reader on olefile, written from Hancom's public specification "한글 문서 파일 형식 5.0" (revision 1.3):
small, streaming record by record, and free of pyhwp (the long-standing Python reader, AGPL). An HWP 5 file is
an OLE compound file: a `FileHeader` stream (signature, version, flags for compression, password and distribution
protection), then one `BodyText/SectionN` stream per section (구역), each a sequence of records, raw-deflated
when the document is compressed. A record header is 32 bits: tag (10 bits), level (10 bits: records nest under
the record one level up) and size (12 bits; 0xFFF means the size follows as 32 bits).

What becomes text: every paragraph (PARA_HEADER) is a line, its PARA_TEXT the UTF-16 characters in which codes
below 32 are controls; tables become one line per row, cells joined by " | "; footnotes and endnotes are gathered
at the end of their section, after the body (so the body reads without interruption). Drawing objects (pictures,
shapes and the text boxes inside them), form controls, running headers and footers, hidden comments, memos and
equations are left out: they are page furniture, annotations or not prose. A section stream that cannot be read (bad deflate data, truncated records)
is skipped and counted when other sections read; a stream that inflates beyond the limits rejects the file."""

from __future__ import annotations

import io
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import olefile

from onett_resources.extraction.base import Extraction, ExtractionLimits, Section, UnsupportedFormat
from onett_resources.extraction.hancom import Budget, private_use_notes

READER = "onett hwp5 reader 1"

SIGNATURE = b"HWP Document File"
HWP3_SIGNATURE = b"HWP Document File V"  # HWP 3.0 / 한글 97 and older: not an OLE file

# FileHeader properties (spec table 3)
COMPRESSED, PASSWORD, DISTRIBUTION, DRM = 1, 1 << 1, 1 << 2, 1 << 4
CERTIFICATE_ENCRYPTED, CERTIFICATE_DRM = 1 << 8, 1 << 10

HWPTAG_BEGIN = 0x10
PARA_HEADER = HWPTAG_BEGIN + 50
PARA_TEXT = HWPTAG_BEGIN + 51
CTRL_HEADER = HWPTAG_BEGIN + 55
LIST_HEADER = HWPTAG_BEGIN + 56
TABLE = HWPTAG_BEGIN + 61

TABLE_CONTROL = "tbl "
NOTE_CONTROLS = {"fn  ", "en  "}  # footnote, endnote
MAX_NESTING = 32  # tables within table cells; deeper than any real document

# PARA_TEXT control codes (spec table 6): these occupy 8 WCHARs (the code, 12 bytes of control data, the code
# again); the other codes below 32 (0, 10, 13, 24-31) are single characters.
WIDE_CONTROLS = frozenset([*range(1, 10), 11, 12, *range(14, 24)])
TAB, LINE_BREAK, PARAGRAPH_END, HYPHEN, BUNDLED_SPACE, FIXED_SPACE = 9, 10, 13, 24, 30, 31
CONTROL_TEXT = {TAB: "\t", LINE_BREAK: "\n", HYPHEN: "-", BUNDLED_SPACE: " ", FIXED_SPACE: " "}
_CONTROL_CODE = re.compile(rb"[\x00-\x1f]\x00", re.DOTALL)


class _Damaged(Exception):
    """A section stream that cannot be read; the file may still have sections that can."""


def extract(path: Path, limits: ExtractionLimits) -> Extraction:
    with open(path, "rb") as handle:
        head = handle.read(len(HWP3_SIGNATURE))
    if head.startswith(HWP3_SIGNATURE):
        raise UnsupportedFormat("HWP 3 (한글 97 or older) document: only HWP 5 and HWPX are read; save it again "
                                "in a current version of 한글")
    if not olefile.isOleFile(str(path)):
        raise UnsupportedFormat("not an HWP document (no OLE compound file header)")
    try:
        ole = olefile.OleFileIO(str(path), raise_defects=olefile.DEFECT_INCORRECT)  # a truncated file is an error
    except (OSError, ValueError, IndexError, struct.error) as exc:
        raise UnsupportedFormat(f"corrupt OLE compound file ({exc})") from None
    with ole:
        flags = _header_flags(ole)
        return _read_sections(ole, bool(flags & COMPRESSED), limits)


def _header_flags(ole: olefile.OleFileIO) -> int:
    """The FileHeader's properties, once the signature and version are checked and no protection is set."""
    if not ole.exists("FileHeader"):
        raise UnsupportedFormat("an OLE compound file without the HWP FileHeader stream: not an HWP document")
    try:
        header = ole.openstream("FileHeader").read(40)
    except OSError as exc:
        raise UnsupportedFormat(f"corrupt OLE compound file: the FileHeader stream cannot be read ({exc})") from None
    if len(header) < 40 or not header.startswith(SIGNATURE):
        raise UnsupportedFormat("the FileHeader stream lacks the HWP signature: not an HWP 5 document")
    version, flags = struct.unpack_from("<II", header, 32)
    if version >> 24 != 5:
        raise UnsupportedFormat(f"HWP format version {_version(version)}: only version 5 is read")
    if flags & PASSWORD:
        raise UnsupportedFormat("password-protected HWP document")
    if flags & DISTRIBUTION or (ole.exists("ViewText") and not ole.exists("BodyText")):
        raise UnsupportedFormat("distribution-protected HWP document (배포용 문서): its text is encrypted")
    if flags & (DRM | CERTIFICATE_DRM):
        raise UnsupportedFormat("DRM-protected HWP document: its text is encrypted")
    if flags & CERTIFICATE_ENCRYPTED:
        raise UnsupportedFormat("HWP document encrypted with a certificate (공인인증서 암호화)")
    return flags


def _version(value: int) -> str:
    return ".".join(str(value >> shift & 0xFF) for shift in (24, 16, 8, 0))


def _read_sections(ole: olefile.OleFileIO, compressed: bool, limits: ExtractionLimits) -> Extraction:
    names = sorted((entry for entry in ole.listdir(streams=True, storages=False)
                    if len(entry) == 2 and entry[0] == "BodyText" and re.fullmatch(r"Section\d+", entry[1])),
                   key=lambda entry: int(entry[1][len("Section"):]))
    if not names:
        raise UnsupportedFormat("HWP document without body text (no BodyText/Section streams)")
    sections, damaged, budget = [], [], Budget(limits.max_text_chars)
    for name in names:
        try:
            text = _section_text(_open_section(ole, "/".join(name), compressed, limits), budget)
        except _Damaged as exc:
            damaged.append(f"{name[1]}: {exc}")
            continue
        sections.append(Section(text))
    if not sections:
        raise UnsupportedFormat(f"every body text section is damaged ({'; '.join(damaged)})")
    if not any(section.text for section in sections):
        raise UnsupportedFormat("no body text: the document holds only empty paragraphs, pictures or drawings "
                                "(text boxes, running headers and footers are not read)")
    return Extraction(sections=sections, reader=READER, unit="sections", read=len(sections), skipped=len(damaged),
                      skipped_why="damaged section streams: " + "; ".join(damaged) if damaged else "",
                      notes=private_use_notes(sections))


def _open_section(ole: olefile.OleFileIO, name: str, compressed: bool, limits: ExtractionLimits) -> IO[bytes]:
    try:
        raw = ole.openstream(name)
    except OSError as exc:
        raise _Damaged(f"unreadable stream ({exc})") from None
    if not compressed:
        return raw
    size = ole.get_size(name)
    limit = min(limits.max_member_bytes, max(limits.max_compression_ratio * max(size, 1), 1 << 20))
    return io.BufferedReader(_Inflated(raw, limit, name, limits), buffer_size=1 << 20)


class _Inflated(io.RawIOBase):
    """A raw-deflated stream inflated as it is read, refused beyond `limit` bytes (a deflate bomb)."""

    def __init__(self, raw: IO[bytes], limit: int, name: str, limits: ExtractionLimits):
        self.raw, self.limit, self.name, self.limits = raw, limit, name, limits
        self.inflater, self.total = zlib.decompressobj(-15), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = b""
        while not data and not self.inflater.eof:
            pending = self.inflater.unconsumed_tail or self.raw.read(1 << 16)
            if not pending:
                raise _Damaged("the compressed stream ends early")
            try:
                data = self.inflater.decompress(pending, len(buffer))
            except zlib.error as exc:
                raise _Damaged(f"bad deflate data ({exc})") from None
        self.total += len(data)
        if self.total > self.limit:
            raise UnsupportedFormat(f"the stream {self.name!r} inflates beyond {self.limit >> 20} MB or "
                                    f"{self.limits.max_compression_ratio}:1 its compressed size (possible "
                                    "decompression bomb)")
        buffer[: len(data)] = data
        return len(data)


@dataclass
class _Record:
    tag: int
    level: int
    data: bytes


class _Records:
    """The record stream with one record of lookahead, read as it is walked (memory stays one record)."""

    def __init__(self, stream: IO[bytes]):
        self.stream = stream
        self.next = self._read()

    def _read(self) -> _Record | None:
        header = self.stream.read(4)
        if not header:
            return None
        if len(header) < 4:
            raise _Damaged("truncated record header")
        (value,) = struct.unpack("<I", header)
        tag, level, size = value & 0x3FF, value >> 10 & 0x3FF, value >> 20
        if size == 0xFFF:
            extended = self.stream.read(4)
            if len(extended) < 4:
                raise _Damaged("truncated record header")
            (size,) = struct.unpack("<I", extended)
        data = self._read_exactly(size)
        if len(data) < size:
            raise _Damaged(f"truncated record (tag {tag}: {len(data)} of {size} bytes)")
        return _Record(tag, level, data)

    def _read_exactly(self, size: int) -> bytes:
        """`size` bytes or fewer at the end, read in pieces: a size field claiming 4 GB allocates nothing."""
        if size <= 1 << 20:
            return self.stream.read(size)
        pieces, left = [], size
        while left and (piece := self.stream.read(min(left, 1 << 20))):
            pieces.append(piece)
            left -= len(piece)
        return b"".join(pieces)

    def peek(self) -> _Record | None:
        return self.next

    def take(self) -> _Record:
        record, self.next = self.next, self._read()
        return record

    def skip_below(self, level: int) -> None:
        """Skip the records nested under a record at `level`."""
        while self.next and self.next.level > level:
            self.take()


def _section_text(stream: IO[bytes], budget: Budget) -> str:
    walker = _Walker(_Records(stream), budget)
    lines = walker.body()
    text = _tidy(lines)
    notes = _tidy(walker.notes)
    return f"{text}\n\n{notes}" if text and notes else text or notes


def _tidy(lines: list[str]) -> str:
    """Lines joined, trailing blanks trimmed, runs of empty paragraphs kept to one blank line."""
    text = "\n".join(line.rstrip() for line in lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


class _Walker:
    """Walks a section's records: paragraphs, and the tables and notes their controls hold."""

    def __init__(self, records: _Records, budget: Budget):
        self.records, self.budget = records, budget
        self.notes: list[str] = []

    def body(self) -> list[str]:
        lines = []
        while record := self.records.peek():
            if record.tag == PARA_HEADER and record.level == 0:
                lines.extend(self.paragraph(0, depth=0))
            else:
                self.records.take()
        return lines

    def paragraphs(self, level: int, depth: int) -> list[str]:
        """The paragraphs of a list (a table cell, a note) that follow its LIST_HEADER at `level`."""
        lines = []
        while (record := self.records.peek()) and record.tag == PARA_HEADER and record.level == level:
            lines.extend(self.paragraph(level, depth))
        return lines

    def paragraph(self, level: int, depth: int) -> list[str]:
        self.records.take()  # PARA_HEADER
        text, after = "", []
        while (record := self.records.peek()) and record.level > level:
            self.records.take()
            if record.level != level + 1:
                continue
            if record.tag == PARA_TEXT:
                text = self.budget.spend(paragraph_text(record.data))
            elif record.tag == CTRL_HEADER:
                after.extend(self.control(record, depth))
        return [text, *after]

    def control(self, header: _Record, depth: int) -> list[str]:
        control = header.data[:4][::-1].decode("latin-1")
        level = header.level
        if control == TABLE_CONTROL and depth < MAX_NESTING:
            return self.table(level, depth + 1)
        if control in NOTE_CONTROLS and depth < MAX_NESTING:
            while (record := self.records.peek()) and record.level > level:
                self.records.take()
                if record.tag == LIST_HEADER and record.level == level + 1:
                    self.notes.extend(line for line in self.paragraphs(level + 1, depth + 1) if line.strip())
            return []
        self.records.skip_below(level)  # drawings and their text boxes, headers/footers, comments, equations
        return []

    def table(self, level: int, depth: int) -> list[str]:
        """A table's rows, cells joined by " | " (a cell's paragraphs by spaces); a table of one column (a box
        around text, common in Korean reports) keeps its paragraphs as lines."""
        caption, cells, in_table = [], {}, False
        while (record := self.records.peek()) and record.level > level:
            self.records.take()
            if record.level != level + 1:
                continue
            if record.tag == TABLE:
                in_table = True
            elif record.tag == LIST_HEADER:
                lines = [line.strip() for line in self.paragraphs(level + 1, depth) if line.strip()]
                if not in_table:
                    caption.extend(lines)
                    continue
                # a cell's LIST_HEADER: paragraph count, flags, then its column and row address
                column, row = struct.unpack_from("<HH", record.data, 8) if len(record.data) >= 12 else (0, len(cells))
                cells.setdefault(row, []).append((column, lines))
        rows = [sorted(row, key=lambda cell: cell[0]) for _, row in sorted(cells.items())]
        if all(len(row) == 1 for row in rows):
            return [*caption, *(line for row in rows for _, lines in row for line in lines)]
        lines = (" | ".join(" ".join(lines) for _, lines in row) for row in rows)
        return [*caption, *(line for line in lines if line.replace("|", "").strip())]


def paragraph_text(data: bytes) -> str:
    """PARA_TEXT (UTF-16LE) as text: character controls mapped or dropped, 8-WCHAR controls skipped."""
    parts, position = [], 0
    search = 0
    while match := _CONTROL_CODE.search(data, search):
        start = match.start()
        if start % 2:  # a match across two characters, not a code unit
            search = start + 1
            continue
        parts.append(data[position:start].decode("utf-16-le", errors="replace"))
        code = data[start]
        if code == PARAGRAPH_END:
            position = len(data)
            break
        parts.append(CONTROL_TEXT.get(code, ""))
        position = search = start + (16 if code in WIDE_CONTROLS else 2)
    parts.append(data[position:].decode("utf-16-le", errors="replace"))
    return "".join(parts)
