"""HWPX documents written from known text with python-hwpx (Apache-2.0), for the HWPX reader's tests.

The same blocks as the HWP 5 writer (`tests.documents.hwp5`: paragraphs with footnotes and endnotes, tables, text
boxes, pictures, running headers), so a document can be written in both formats and must read the same. The text
comes from the shared corpora (Korean statutes and court decisions: public works, see their SOURCE.md)."""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

from hwpx import HwpxDocument

from tests.documents.hwp5 import Block, Header, Paragraph, Picture, Table, TextBox


def write_hwpx(path: Path, sections: list[list[Block]]) -> Path:
    """An HWPX package with one section part per list of blocks (a str is a plain paragraph)."""
    document = HwpxDocument.new()
    for number, blocks in enumerate(sections):
        section = document.sections[0] if number == 0 else document.add_section()
        for block in blocks:
            _add(document, section, number, block)
    document.save_to_path(path)
    return path


def _add(document: HwpxDocument, section, number: int, block: Block) -> None:
    if isinstance(block, str):
        block = Paragraph(block)
    if isinstance(block, Paragraph):
        paragraph = document.add_paragraph(block.text, section=section)
        for note in block.footnotes:
            document.notes.add_footnote(note, paragraph=paragraph)
        for note in block.endnotes:
            document.notes.add_endnote(note, paragraph=paragraph)
    elif isinstance(block, Table):
        table = document.add_table(len(block.rows), max(len(row) for row in block.rows), section=section)
        for row_number, row in enumerate(block.rows):
            for column, text in enumerate(row):
                table.cell(row_number, column).text = text
    elif isinstance(block, TextBox):
        document.shapes.add_rectangle(section=section).set_draw_text(block.text)
    elif isinstance(block, Picture):
        document.add_picture(png(), "png", section=section, width=1000, height=1000)
    elif isinstance(block, Header):
        document.page.set_header(text=block.text, section_index=number)
    else:
        raise TypeError(block)


def write_tracked_changes(path: Path, paragraphs: list[tuple[str, str, str]]) -> Path:
    """Paragraphs `(text, old, new)` where `old` is replaced by `new` as a tracked change (a deletion, then an
    insertion); an empty `new` is a tracked deletion alone."""
    document = HwpxDocument.new()
    for text, old, new in paragraphs:
        paragraph = document.add_paragraph(text)
        if new:
            document.tracking.replace(paragraph, old, new)
        else:
            document.tracking.delete(paragraph, match=old)
    document.save_to_path(path)
    return path


def write_with_memo(path: Path, text: str, memo: str) -> Path:
    """One paragraph with a memo (a reviewer's note in the margin) anchored on it."""
    document = HwpxDocument.new()
    document.add_memo_with_anchor(memo, paragraph=document.add_paragraph(text))
    document.save_to_path(path)
    return path


def png() -> bytes:
    """A 1x1 red PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def rewrite(source: Path, target: Path, replace: dict[str, bytes | None]) -> Path:
    """A copy of an HWPX package with parts replaced (bytes) or removed (None), for damaged-package tests."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for info in original.infolist():
            if info.filename in replace:
                if replace[info.filename] is not None:
                    copy.writestr(info.filename, replace[info.filename])
            else:
                copy.writestr(info, original.read(info))
        for name, data in replace.items():
            if name not in original.namelist() and data is not None:
                copy.writestr(name, data)
    return target
