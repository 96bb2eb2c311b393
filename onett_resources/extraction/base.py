"""What every document reader returns, and the guards they share.

A reader turns one file (PDF, HWP, HWPX, DOCX, EPUB, HTML) into clean text: the sections it holds in reading order
and the provenance of the extraction (which library read it, how many pages or sections were read and skipped and
why, how many characters were removed as running headers, footers and page numbers). A file that cannot be read
as a whole (encrypted, no text layer, corrupt) raises `UnsupportedFormat` with the reason, never returns empty or
garbage text: what is extracted is what is paid."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from typing import IO

from lxml import etree

from onett_resources.encodings import UnsupportedFormat

__all__ = ["SAFE_XML", "Extraction", "ExtractionLimits", "Section", "UnsupportedFormat", "library", "open_member",
           "read_member", "read_xml", "refuse_doctype"]

# How every XML part of a document is parsed: no entities expanded, no DTD or file loaded, no network, no huge trees.
SAFE_XML = dict(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)


@dataclass(frozen=True)
class ExtractionLimits:
    """What one document may expand to; a reader stops with a clear reason beyond them."""

    max_pages: int = 20_000  # a PDF claiming more pages is refused before any is read (a page-count bomb)
    max_text_chars: int = 256 << 20  # text extracted from one file
    max_member_bytes: int = 1 << 30  # one XML part inflated from a DOCX/HWPX/EPUB, or one HWP stream
    max_compression_ratio: int = 200  # inflated / compressed bytes of one part or stream


@dataclass
class Section:
    """A chapter or section of the document, in reading order; `title` is "" where the format has none."""

    text: str
    title: str = ""


@dataclass
class Extraction:
    sections: list[Section]
    reader: str  # the library (or onett's own reader) and its version, as `library()` gives it
    unit: str  # what `read` and `skipped` count: "pages", "sections", "chapters", "documents"
    read: int
    skipped: int = 0
    skipped_why: str = ""  # why `skipped` units were not read, e.g. "no text layer (needs OCR)"
    removed_chars: int = 0  # characters removed as running headers/footers and page numbers
    notes: list[str] = field(default_factory=list)  # anything else the contributor should know

    @property
    def text(self) -> str:
        return "\n\n".join(s.text for s in self.sections if s.text)

    def provenance(self) -> str:
        """One line for the upload's notes: `read by pypdfium2 5.15.2: 312 of 315 pages; 3 skipped (...)`."""
        line = f"read by {self.reader}: {self.read} of {self.read + self.skipped} {self.unit}"
        if self.skipped:
            line += f"; {self.skipped} skipped ({self.skipped_why})" if self.skipped_why else f"; {self.skipped} skipped"
        if self.removed_chars:
            line += f"; {self.removed_chars:,} characters of running headers, footers and page numbers removed"
        return "; ".join([line, *self.notes])


def library(distribution: str) -> str:
    """`name version` of an installed distribution, for provenance."""
    try:
        return f"{distribution} {metadata.version(distribution)}"
    except metadata.PackageNotFoundError:
        return distribution


def open_member(archive: zipfile.ZipFile, name: str, limits: ExtractionLimits) -> IO[bytes]:
    """One part of a zip-based document (DOCX, HWPX, EPUB) as a stream, for `lxml.etree.iterparse` on large parts.
    Refused when the name escapes the archive, and beyond the size and compression-ratio limits (a zip bomb inside
    a document): the declared size is checked first, the inflated bytes as they are read."""
    if name.startswith("/") or ".." in name.replace("\\", "/").split("/"):
        raise UnsupportedFormat(f"the part {name!r} has an absolute or '..' path")
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise UnsupportedFormat(f"the part {name!r} is missing") from None
    if info.flag_bits & 0x1:
        raise UnsupportedFormat(f"the part {name!r} is encrypted")
    if info.file_size > limits.max_member_bytes:
        raise UnsupportedFormat(f"the part {name!r} expands to {info.file_size >> 20} MB, beyond the limit of "
                                f"{limits.max_member_bytes >> 20} MB")
    limit = min(limits.max_member_bytes, max(limits.max_compression_ratio * max(info.compress_size, 1), 1 << 20))
    return io.BufferedReader(_Bounded(archive.open(info), limit, name, limits), buffer_size=1 << 20)


def read_member(archive: zipfile.ZipFile, name: str, limits: ExtractionLimits) -> bytes:
    """One (small) part of a zip-based document, whole; see `open_member`."""
    with open_member(archive, name, limits) as member:
        return member.read()


class _Bounded(io.RawIOBase):
    def __init__(self, inner: IO[bytes], limit: int, name: str, limits: ExtractionLimits):
        self.inner, self.limit, self.name, self.limits, self.total = inner, limit, name, limits, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.inner.read(len(buffer))
        self.total += len(data)
        if self.total > self.limit:
            raise UnsupportedFormat(
                f"the part {self.name!r} inflates beyond {self.limit >> 20} MB or "
                f"{self.limits.max_compression_ratio}:1 its compressed size (possible zip bomb)")
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


def read_xml(archive: zipfile.ZipFile, name: str, limits: ExtractionLimits) -> etree._Element:
    """One (small) XML part of a zip-based document, parsed safely (`SAFE_XML`); see `refuse_doctype`."""
    try:
        root = etree.fromstring(read_member(archive, name, limits), etree.XMLParser(**SAFE_XML))
    except etree.XMLSyntaxError as exc:
        raise UnsupportedFormat(f"the part {name!r} is not well-formed XML ({exc})") from None
    refuse_doctype(root.getroottree(), name)
    return root


def refuse_doctype(tree, name: str) -> None:
    """Office, OWPML and EPUB parts never need a DTD: one that declares entities is an XML bomb or an attempt to
    read outside files. Parsed without expanding them, and refused all the same."""
    if tree.docinfo.doctype:
        raise UnsupportedFormat(f"the part {name!r} declares a DTD or entities (refused: possible XML bomb)")
