"""HWPX documents (OWPML, KS X 6101: Hancom Office's zip-of-XML format) read into text.

`Contents/content.hpf` lists the parts (manifest) and their reading order (spine); each `section*.xml` in the spine
is one section (구역). Its top-level paragraphs (`hp:p`) are parsed one at a time with `iterparse` and dropped once
read, so a large section costs one paragraph of memory. Text is in `hp:t` runs; tables (`hp:tbl`) become one line
per row, cells joined by " | "; footnotes and endnotes are gathered at the end of their section, after the body.
Pictures, drawing objects (and the text boxes inside them), form controls, equations, running headers and
footers, hidden comments, memos and the text of tracked deletions are left out: page furniture, annotations or
not prose. The same choices as the HWP 5 reader, so a document reads the same in either format. XML is parsed
without entities, DTDs or network access (no XML bombs)."""

from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path

from lxml import etree

from onett_resources.extraction.base import (
    SAFE_XML, Extraction, ExtractionLimits, Section, UnsupportedFormat, library, open_member, read_member, read_xml,
    refuse_doctype,
)
from onett_resources.extraction.hancom import Budget, private_use_notes

PACKAGE = "Contents/content.hpf"
MANIFEST = "META-INF/manifest.xml"
MIMETYPE = "application/hwp+zip"

# elements whose content is not body text: drawings and what they hold, form controls, page furniture, hidden
# comments, and field starts (a memo's text is held in its field start; a field's shown text follows it in the run)
SKIPPED = frozenset({
    "pic", "rect", "ellipse", "arc", "polygon", "curve", "connectLine", "line", "container", "ole", "equation",
    "textart", "chart", "video", "drawText", "btn", "radioBtn", "checkBtn", "comboBox", "listBox", "edit",
    "scrollBar", "header", "footer", "hiddenComment", "fieldBegin", "secPr", "linesegarray", "shapeComment",
})
NOTES = frozenset({"footNote", "endNote"})
INLINE = {"tab": "\t", "lineBreak": "\n", "hyphen": "-", "nbSpace": " ", "fwSpace": " "}
MAX_NESTING = 32  # tables within table cells; deeper than any real document


def extract(path: Path, limits: ExtractionLimits) -> Extraction:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnsupportedFormat(f"corrupt or not an HWPX package: not a readable zip ({exc})") from None
    with archive:
        _refuse_other_packages(archive, limits)
        _refuse_encrypted(archive, limits)
        budget = Budget(limits.max_text_chars)
        sections = [Section(_section_text(archive, name, limits, budget)) for name in _section_parts(archive, limits)]
    if not any(section.text for section in sections):
        raise UnsupportedFormat("no body text: the document holds only empty paragraphs, pictures or drawings "
                                "(text boxes, running headers and footers are not read)")
    return Extraction(sections=sections, reader=f"onett hwpx reader 1 ({library('lxml')})", unit="sections",
                      read=len(sections), notes=private_use_notes(sections))


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _refuse_other_packages(archive: zipfile.ZipFile, limits: ExtractionLimits) -> None:
    """A zip without the HWPX package file: say what it is when its mimetype tells (an EPUB, an ODT)."""
    if PACKAGE in archive.namelist():
        return
    mimetype = ""
    if "mimetype" in archive.namelist() and archive.getinfo("mimetype").file_size < 200:
        mimetype = read_member(archive, "mimetype", limits).decode("ascii", errors="replace").strip()
    if mimetype and mimetype != MIMETYPE:
        raise UnsupportedFormat(f"not an HWPX package: a zip of type {mimetype!r}")
    raise UnsupportedFormat(f"not an HWPX package: the part {PACKAGE!r} is missing")


def _refuse_encrypted(archive: zipfile.ZipFile, limits: ExtractionLimits) -> None:
    if MANIFEST not in archive.namelist():
        return
    manifest = read_xml(archive, MANIFEST, limits)
    if any(_local(element.tag) == "encryption-data" for element in manifest.iter()):
        raise UnsupportedFormat("password-protected HWPX document (its parts are encrypted)")


def _section_parts(archive: zipfile.ZipFile, limits: ExtractionLimits) -> list[str]:
    """The section parts in spine order, as `Contents/content.hpf` lists them."""
    package = read_xml(archive, PACKAGE, limits)
    items = {element.get("id"): element.get("href", "") for element in package.iter()
             if _local(element.tag) == "item"}
    spine = [items.get(element.get("idref")) for element in package.iter() if _local(element.tag) == "itemref"]
    names = [_resolve(archive, href) for href in spine if href and re.search(r"section\d*\.xml$", href, re.I)]
    if not names:
        raise UnsupportedFormat(f"the spine of {PACKAGE!r} lists no section parts: no body text")
    return names


def _resolve(archive: zipfile.ZipFile, href: str) -> str:
    """Hancom writes hrefs from the package root; relative to the .hpf is the OPF rule: accept either."""
    relative = posixpath.normpath(posixpath.join(posixpath.dirname(PACKAGE), href))
    return href if href in archive.namelist() or relative not in archive.namelist() else relative


def _section_text(archive: zipfile.ZipFile, name: str, limits: ExtractionLimits, budget: Budget) -> str:
    with open_member(archive, name, limits) as member:
        walker, lines = _Walker(budget), []
        try:
            events = etree.iterparse(member, events=("end",), tag="{*}p", **SAFE_XML)
            for _, element in events:
                parent = element.getparent()
                if parent is None or parent.getparent() is not None:
                    continue  # a paragraph inside a table or a note: read with its top-level paragraph
                lines.extend(walker.paragraph(element, 0))
                element.clear()
                while element.getprevious() is not None:
                    del parent[0]
        except etree.XMLSyntaxError as exc:
            raise UnsupportedFormat(f"the part {name!r} is not well-formed XML ({exc})") from None
        refuse_doctype(events.root.getroottree(), name)
    text, notes = _tidy(lines), _tidy(walker.notes)
    return f"{text}\n\n{notes}" if text and notes else text or notes


def _tidy(lines: list[str]) -> str:
    text = "\n".join(line.rstrip() for line in lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


class _Walker:
    """A paragraph's text, the rows of the tables it anchors, and the notes it holds (gathered in `notes`)."""

    def __init__(self, budget: Budget):
        self.budget = budget
        self.notes: list[str] = []
        self.deleting = False  # inside a tracked deletion

    def paragraph(self, element: etree._Element, depth: int) -> list[str]:
        text, after = [], []
        self._collect(element, text, after, depth)
        return [self.budget.spend("".join(text)), *after]

    def _collect(self, element: etree._Element, text: list[str], after: list[str], depth: int) -> None:
        for child in element:
            name = _local(child.tag)
            if name in SKIPPED or not name:
                continue
            if name == "t":
                self._text(child, text)
            elif name == "tbl":
                if depth < MAX_NESTING:
                    after.extend(self.table(child, depth + 1))
            elif name in NOTES:
                if depth < MAX_NESTING:
                    self.notes.extend(line for p in _paragraphs(child) for line in self.paragraph(p, depth + 1)
                                      if line.strip())
            else:
                self._collect(child, text, after, depth)

    def _text(self, element: etree._Element, text: list[str]) -> None:
        """`hp:t`: its text, and the tabs, line breaks and special spaces inside it. Text between a tracked
        deletion's marks (which may lie in different runs) is what the document no longer says: left out."""
        pieces = [element.text]
        for child in element:
            name = _local(child.tag)
            if name in ("deleteBegin", "deleteEnd"):
                text.extend(piece or "" for piece in pieces if not self.deleting)
                pieces, self.deleting = [], name == "deleteBegin"
            pieces += [INLINE.get(name, ""), child.tail]
        text.extend(piece or "" for piece in pieces if not self.deleting)

    def table(self, element: etree._Element, depth: int) -> list[str]:
        """Rows, cells joined by " | " (a cell's paragraphs by spaces); a one-column table (a box around text)
        keeps its paragraphs as lines."""
        cells: dict[int, list[tuple[int, list[str]]]] = {}
        for row_number, row in enumerate(child for child in element if _local(child.tag) == "tr"):
            for column_number, cell in enumerate(child for child in row if _local(child.tag) == "tc"):
                address = next((child for child in cell if _local(child.tag) == "cellAddr"), None)
                column = int(address.get("colAddr", column_number)) if address is not None else column_number
                row_at = int(address.get("rowAddr", row_number)) if address is not None else row_number
                lines = [line.strip() for p in _paragraphs(cell) for line in self.paragraph(p, depth) if line.strip()]
                cells.setdefault(row_at, []).append((column, lines))
        caption = [line.strip() for child in element if _local(child.tag) == "caption"
                   for p in _paragraphs(child) for line in self.paragraph(p, depth) if line.strip()]
        rows = [sorted(row, key=lambda cell: cell[0]) for _, row in sorted(cells.items())]
        if all(len(row) == 1 for row in rows):
            return [*caption, *(line for row in rows for _, lines in row for line in lines)]
        lines = (" | ".join(" ".join(lines) for _, lines in row) for row in rows)
        return [*caption, *(line for line in lines if line.replace("|", "").strip())]


def _paragraphs(element: etree._Element) -> list[etree._Element]:
    """The paragraphs of a cell's or note's `hp:subList`."""
    return [p for sub in element if _local(sub.tag) == "subList" for p in sub if _local(p.tag) == "p"]
