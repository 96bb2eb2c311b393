"""HWP 5 documents written from known text, for the HWP reader's tests.

Our own writer (no third-party code; pyhwp is AGPL and not used): a minimal OLE compound file (Microsoft's public
MS-CFB specification: version 3, 512-byte sectors, one FAT, streams under 4096 bytes in the mini stream) holding
the streams of Hancom's public HWP 5.0 specification (revision 1.3): FileHeader, DocInfo and BodyText/SectionN
made of PARA_HEADER/PARA_TEXT records, with tables, footnotes, endnotes, running headers, pictures and drawing
objects with text boxes. The records carry what a reader needs (levels, control codes, cell addresses); layout
fields are left zero, so Hancom Office may refuse to render these files. The text written into them comes from the
shared corpora (Korean statutes and court decisions: public works, see their SOURCE.md)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from onett_resources.extraction.hwp import (
    CTRL_HEADER, HWPTAG_BEGIN, LIST_HEADER, PARA_HEADER, PARA_TEXT, SIGNATURE, TABLE,
)

PARA_CHAR_SHAPE, PARA_LINE_SEG = HWPTAG_BEGIN + 52, HWPTAG_BEGIN + 53
SHAPE_COMPONENT, SHAPE_RECTANGLE, SHAPE_PICTURE = HWPTAG_BEGIN + 60, HWPTAG_BEGIN + 63, HWPTAG_BEGIN + 69
DOCUMENT_PROPERTIES, ID_MAPPINGS = HWPTAG_BEGIN, HWPTAG_BEGIN + 1


@dataclass
class Paragraph:
    text: str
    footnotes: list[str] = field(default_factory=list)  # anchored at the end of the paragraph's text
    endnotes: list[str] = field(default_factory=list)


@dataclass
class Table:
    rows: list[list[str]]


@dataclass
class TextBox:
    """A rectangle (drawing object) with text inside: not body text."""

    text: str


@dataclass
class Picture:
    pass


@dataclass
class Header:
    """A running header (머리말) shown on every page: page furniture, not body text."""

    text: str


Block = Paragraph | Table | TextBox | Picture | Header | str


def write_hwp(path: Path, sections: list[list[Block]], *, compressed: bool = True, distribution: bool = False,
              password: bool = False, version: tuple[int, int, int, int] = (5, 0, 3, 2)) -> Path:
    """An HWP 5 file with one BodyText section per list of blocks (a str is a plain paragraph)."""
    flags = int(compressed) | int(password) << 1 | int(distribution) << 2
    streams = {"FileHeader": file_header(version, flags),
               "DocInfo": _pack(doc_info(len(sections)), compressed)}
    body = "ViewText" if distribution else "BodyText"
    for number, blocks in enumerate(sections):
        streams[f"{body}/Section{number}"] = _pack(section_records(blocks), compressed)
    if any(isinstance(block, Picture) for blocks in sections for block in blocks):
        streams["BinData/BIN0001.png"] = b"\x89PNG\r\n\x1a\n" + bytes(64)
    path.write_bytes(compound_file(streams))
    return path


def file_header(version: tuple[int, int, int, int], flags: int) -> bytes:
    major, minor, build, revision = version
    header = SIGNATURE.ljust(32, b"\0") + struct.pack("<II", major << 24 | minor << 16 | build << 8 | revision, flags)
    return header.ljust(256, b"\0")


def doc_info(section_count: int) -> bytes:
    properties = struct.pack("<H6HIII", section_count, 1, 1, 1, 1, 1, 1, 0, 0, 0)
    return record(DOCUMENT_PROPERTIES, 0, properties) + record(ID_MAPPINGS, 0, bytes(4 * 18))


def _pack(data: bytes, compressed: bool) -> bytes:
    if not compressed:
        return data
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def record(tag: int, level: int, data: bytes) -> bytes:
    size = len(data)
    if size >= 0xFFF:
        return struct.pack("<II", tag | level << 10 | 0xFFF << 20, size) + data
    return struct.pack("<I", tag | level << 10 | size << 20) + data


def section_records(blocks: list[Block]) -> bytes:
    out = bytearray()
    for block in blocks:
        out += block_records(block, 0)
    return bytes(out)


def block_records(block: Block, level: int) -> bytes:
    if isinstance(block, str):
        block = Paragraph(block)
    if isinstance(block, Paragraph):
        notes = [("fn  ", note) for note in block.footnotes] + [("en  ", note) for note in block.endnotes]
        controls = [(ctrl, _note_records(ctrl, note, level + 1)) for ctrl, note in notes]
        return paragraph(block.text, level, controls)
    if isinstance(block, Table):
        return paragraph("", level, [("tbl ", _table_records(block.rows, level + 1))])
    if isinstance(block, TextBox):
        return paragraph("", level, [("gso ", _drawing_records(level + 1, block.text))])
    if isinstance(block, Picture):
        return paragraph("", level, [("gso ", _drawing_records(level + 1, None))])
    if isinstance(block, Header):
        return paragraph("", level, [("head", _list_records(CTRL_HEADER, b"head"[::-1] + bytes(10), [block.text],
                                                             level + 1))])
    raise TypeError(block)


def paragraph(text: str, level: int, controls: list[tuple[str, bytes]] = ()) -> bytes:
    """PARA_HEADER and its PARA_TEXT (with one extended control code per control), then the controls' records."""
    tab = struct.pack("<H", 9) + bytes(12) + struct.pack("<H", 9)  # an inline control: 8 WCHARs
    units = tab.join(part.encode("utf-16-le") for part in text.split("\t"))
    for ctrl, _ in controls:
        code = 0x11 if ctrl in ("fn  ", "en  ") else 0x10 if ctrl == "head" else 0x0B
        units += _extended_control(code, ctrl)
    units += "\r".encode("utf-16-le")
    header = struct.pack("<IIHBBHHHIH", len(units) // 2, 0, 0, 0, 0, 1, 0, 1, 0, 0)
    out = record(PARA_HEADER, level, header)
    out += record(PARA_TEXT, level + 1, units)
    out += record(PARA_CHAR_SHAPE, level + 1, bytes(8))
    out += record(PARA_LINE_SEG, level + 1, bytes(36))
    for _, records in controls:
        out += records
    return out


def _extended_control(code: int, ctrl: str) -> bytes:
    """8 WCHARs: the code, the control's id (4 bytes), 8 bytes of data, the code again."""
    return struct.pack("<H", code) + ctrl.encode("ascii")[::-1] + bytes(8) + struct.pack("<H", code)


def _list_header(paragraphs: int, cell: tuple[int, int] | None = None) -> bytes:
    data = struct.pack("<HHI", paragraphs, 0, 0)
    if cell is not None:
        column, row = cell
        data += struct.pack("<HHHHII4HH", column, row, 1, 1, 6000, 1000, 140, 140, 140, 140, 1)
    return data


def _list_records(tag: int, header: bytes, paragraphs: list[str], level: int) -> bytes:
    """A control (at `level`) holding one paragraph list: LIST_HEADER, then the paragraphs, one level down."""
    out = record(tag, level, header) + record(LIST_HEADER, level + 1, _list_header(len(paragraphs)))
    for text in paragraphs:
        out += paragraph(text, level + 1)
    return out


def _note_records(ctrl: str, text: str, level: int) -> bytes:
    return _list_records(CTRL_HEADER, ctrl.encode("ascii")[::-1] + bytes(4), [text], level)


def _object_header(ctrl: str) -> bytes:
    """CTRL_HEADER of a table or drawing: the id and the common object properties (position, size: zero)."""
    return ctrl.encode("ascii")[::-1] + bytes(42)


def _table_records(rows: list[list[str]], level: int) -> bytes:
    columns = max(len(row) for row in rows)
    table = struct.pack("<IHHH4H", 0, len(rows), columns, 0, 140, 140, 140, 140)
    table += struct.pack(f"<{len(rows)}H", *(columns,) * len(rows)) + struct.pack("<HH", 1, 0)
    out = record(CTRL_HEADER, level, _object_header("tbl ")) + record(TABLE, level + 1, table)
    for row_number, row in enumerate(rows):
        for column, text in enumerate(row):
            out += record(LIST_HEADER, level + 1, _list_header(1, (column, row_number)))
            out += paragraph(text, level + 1)
    return out


def _drawing_records(level: int, text: str | None) -> bytes:
    """A drawing object: a rectangle with a text box holding `text`, or (None) a picture."""
    out = record(CTRL_HEADER, level, _object_header("gso "))
    kind = b"$rec" if text is not None else b"$pic"
    out += record(SHAPE_COMPONENT, level + 1, kind[::-1] * 2 + bytes(188))
    if text is None:
        return out + record(SHAPE_PICTURE, level + 2, bytes(80))
    out += record(LIST_HEADER, level + 2, _list_header(1) + bytes(13))
    out += paragraph(text, level + 2)
    return out + record(SHAPE_RECTANGLE, level + 2, bytes(33))


# -- OLE compound file (MS-CFB version 3) -----------------------------------------------------------------------

SECTOR, MINI_SECTOR, MINI_CUTOFF = 512, 64, 4096
FREE, END_OF_CHAIN, FAT_SECTOR = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
NO_STREAM = 0xFFFFFFFF


@dataclass
class _Entry:
    name: str
    kind: int  # 1 storage, 2 stream, 5 root
    data: bytes = b""
    children: list[_Entry] = field(default_factory=list)
    start: int = END_OF_CHAIN
    index: int = 0
    left: int = NO_STREAM  # siblings and first child in the directory's red-black trees (all black here)
    right: int = NO_STREAM
    child: int = NO_STREAM


def compound_file(streams: dict[str, bytes]) -> bytes:
    """An OLE compound file holding `streams` ("Storage/Stream" names, one level of storages)."""
    root = _Entry("Root Entry", 5)
    for name, data in streams.items():
        parent = root
        *storages, leaf = name.split("/")
        for storage in storages:
            parent = next((c for c in parent.children if c.name == storage), None) or _add(parent, _Entry(storage, 1))
        _add(parent, _Entry(leaf, 2, data))
    entries = _flatten(root)
    for entry in entries:
        entry.child = _tree(sorted(entry.children, key=_order))

    mini = bytearray()
    mini_fat: list[int] = []
    big = [entry for entry in entries if entry.kind == 2 and len(entry.data) >= MINI_CUTOFF]
    for entry in entries:
        if entry.kind == 2 and 0 < len(entry.data) < MINI_CUTOFF:
            count = -(-len(entry.data) // MINI_SECTOR)
            entry.start = len(mini_fat)
            mini_fat += [len(mini_fat) + i + 1 for i in range(count - 1)] + [END_OF_CHAIN]
            mini += entry.data.ljust(count * MINI_SECTOR, b"\0")
    root.data = bytes(mini)

    chains = [("directory", _sectors(len(entries) * 128)), ("minifat", _sectors(len(mini_fat) * 4)),
              ("ministream", _sectors(len(mini)))] + [(entry, _sectors(len(entry.data))) for entry in big]
    body_sectors = sum(count for _, count in chains)
    fat_sectors = 1
    while fat_sectors * (SECTOR // 4) < body_sectors + fat_sectors:
        fat_sectors += 1
    if fat_sectors > 109:
        raise ValueError("too large for a compound file without DIFAT sectors")

    fat = [FAT_SECTOR] * fat_sectors
    starts = {}
    for key, count in chains:
        starts[id(key) if not isinstance(key, str) else key] = len(fat) if count else END_OF_CHAIN
        fat += [len(fat) + i + 1 for i in range(count - 1)] + ([END_OF_CHAIN] if count else [])
    for entry in big:
        entry.start = starts[id(entry)]
    root.start = starts["ministream"]
    fat += [FREE] * (fat_sectors * (SECTOR // 4) - len(fat))

    directory = b"".join(_directory_entry(entry) for entry in entries)
    body = b"".join(_padded(part) for part in [
        directory, struct.pack(f"<{len(mini_fat)}I", *mini_fat), bytes(mini), *(entry.data for entry in big)])
    header = struct.pack("<8s16sHHHHH6sIIIIIIIII", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", bytes(16), 0x3E, 3, 0xFFFE,
                         9, 6, bytes(6), 0, fat_sectors, starts["directory"], 0, MINI_CUTOFF, starts["minifat"],
                         -(-len(mini_fat) * 4 // SECTOR), END_OF_CHAIN, 0)
    header += struct.pack("<109I", *range(fat_sectors), *[FREE] * (109 - fat_sectors))
    return header + struct.pack(f"<{len(fat)}I", *fat) + body


def _add(parent: _Entry, child: _Entry) -> _Entry:
    parent.children.append(child)
    return child


def _flatten(root: _Entry) -> list[_Entry]:
    entries, pending = [], [root]
    while pending:
        entry = pending.pop(0)
        entry.index = len(entries)
        entries.append(entry)
        pending.extend(entry.children)
    return entries


def _sectors(size: int) -> int:
    return -(-size // SECTOR)


def _padded(data: bytes) -> bytes:
    return data.ljust(_sectors(len(data)) * SECTOR, b"\0")


def _order(entry: _Entry) -> tuple[int, str]:
    """Directory order of siblings: shorter names first, then by upper-case name."""
    return len(entry.name), entry.name.upper()


def _tree(siblings: list[_Entry]) -> int:
    """Links sorted siblings into a balanced binary search tree; returns the index of its root."""
    if not siblings:
        return NO_STREAM
    middle = len(siblings) // 2
    node = siblings[middle]
    node.left, node.right = _tree(siblings[:middle]), _tree(siblings[middle + 1:])
    return node.index


def _directory_entry(entry: _Entry) -> bytes:
    name = entry.name.encode("utf-16-le") + b"\0\0"
    stream = entry.kind != 1
    return struct.pack("<64sHBBIII16sIQQIQ", name, len(name), entry.kind, 1, entry.left, entry.right, entry.child,
                       bytes(16), 0, 0, 0, entry.start if stream else 0, len(entry.data) if stream else 0)
