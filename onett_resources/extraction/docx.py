"""Word documents (DOCX, Office Open XML) read into text as the author last left it.

`word/document.xml` is streamed with lxml's iterparse and each top-level paragraph or table is dropped once read,
so a DOCX of any size is read in bounded memory (python-docx would build the whole tree). What becomes text: the
paragraphs, tables as one line per row (cells joined by " | "), then footnotes and endnotes; tracked insertions are
kept and tracked deletions are not (the text as it reads now); running headers and footers, comments and field
codes are not prose. A "Heading 1" paragraph starts a new section, so a book can be split by chapter. A password-
protected DOCX is an encrypted OLE container, not a zip: refused as such."""

from __future__ import annotations

import zipfile
from pathlib import Path

from lxml import etree

from onett_resources.extraction.base import (
    SAFE_XML, Extraction, ExtractionLimits, Section, UnsupportedFormat, open_member, read_xml, refuse_doctype,
)

READER = "onett docx reader 1"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Subtrees that are not the document's current text: deleted or moved-away runs, field codes, note markers, and
# the fallback copy of a text box (the same text again, for older Word versions).
SKIPPED = {f"{W}{name}" for name in ("del", "moveFrom", "delText", "instrText", "footnoteReference",
                                     "endnoteReference", "commentReference", "annotationRef")} | {f"{MC}Fallback"}
SPECIAL = {f"{W}tab": "\t", f"{W}br": "\n", f"{W}cr": "\n", f"{W}noBreakHyphen": "-", f"{W}softHyphen": ""}
NOT_NOTES = {"separator", "continuationSeparator", "continuationNotice"}


def extract(path: Path, limits: ExtractionLimits) -> Extraction:
    with open(path, "rb") as handle:
        head = handle.read(len(OLE_MAGIC))
    if head == OLE_MAGIC:
        raise UnsupportedFormat(_ole_kind(path))
    try:
        package = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise UnsupportedFormat("corrupt or truncated DOCX (not a readable zip archive)") from None
    with package:
        if "word/document.xml" not in package.namelist():
            raise UnsupportedFormat("not a Word document (no word/document.xml)")
        try:
            return _read(package, limits)
        except etree.XMLSyntaxError as exc:
            raise UnsupportedFormat(f"corrupt DOCX: word/document.xml is not well-formed XML ({exc})") from None
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise UnsupportedFormat(f"corrupt or truncated DOCX ({exc})") from None


def _read(package: zipfile.ZipFile, limits: ExtractionLimits) -> Extraction:
    headings = _heading_styles(package, limits)
    sections, title, lines, total = [], "", [], 0
    with open_member(package, "word/document.xml", limits) as stream:
        for _, element in etree.iterparse(stream, events=("end",), tag=(f"{W}p", f"{W}tbl"), **SAFE_XML):
            if not lines and not sections:
                refuse_doctype(element.getroottree(), "word/document.xml")
            if next(element.iterancestors(f"{W}p", f"{W}tbl"), None) is not None:
                continue  # a paragraph inside a table or a text box: read with it
            parent = element.getparent()
            if element.tag == f"{W}p" and _style(element) in headings:
                if lines:
                    sections.append(Section("\n".join(lines), title))
                title, lines = _text(element).strip(), []
            text = _table(element) if element.tag == f"{W}tbl" else _text(element).strip()
            if text:
                lines.append(text)
                total += len(text)
                if total > limits.max_text_chars:
                    raise UnsupportedFormat(f"more than {limits.max_text_chars >> 20} M characters of text")
            element.clear()
            while element.getprevious() is not None:  # what was read is dropped: memory stays bounded
                del parent[0]
    notes = [note for part in ("word/footnotes.xml", "word/endnotes.xml") for note in _notes(package, part, limits)]
    if notes or lines:
        sections.append(Section("\n".join(lines + notes), title))
    return Extraction(sections, READER, "sections", len(sections),
                      notes=[f"{len(notes)} footnotes and endnotes after the body"] if notes else [])


def _text(element) -> str:
    """The current text of a paragraph (or any part of one): runs, tabs and breaks; deletions and codes left out."""
    parts = []

    def walk(node):
        for child in node:
            tag = child.tag
            if tag in SKIPPED or not isinstance(tag, str):
                continue
            if tag == f"{W}t":
                parts.append(child.text or "")
            elif tag in SPECIAL:
                parts.append(SPECIAL[tag])
            elif tag == f"{W}tbl":
                parts.append("\n" + _table(child) + "\n")
            elif tag == f"{W}p" and parts:
                parts.append("\n")
                walk(child)
            else:
                walk(child)

    walk(element)
    return "".join(parts)


def _table(table) -> str:
    rows = []
    for row in table.iterchildren(f"{W}tr"):
        cells = [" ".join(_text(cell).split()) for cell in row.iterchildren(f"{W}tc")]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _style(paragraph) -> str:
    style = paragraph.find(f"{W}pPr/{W}pStyle")
    return style.get(f"{W}val", "") if style is not None else ""


def _heading_styles(package: zipfile.ZipFile, limits: ExtractionLimits) -> set[str]:
    """Ids of the styles named "heading 1" (Word names the built-in style so in every language)."""
    if "word/styles.xml" not in package.namelist():
        return set()
    styles = read_xml(package, "word/styles.xml", limits)
    return {style.get(f"{W}styleId") for style in styles.iter(f"{W}style")
            if (name := style.find(f"{W}name")) is not None and (name.get(f"{W}val") or "").lower() == "heading 1"}


def _notes(package: zipfile.ZipFile, part: str, limits: ExtractionLimits) -> list[str]:
    if part not in package.namelist():
        return []
    root = read_xml(package, part, limits)
    found = []
    for note in root:
        if note.get(f"{W}type") in NOT_NOTES:
            continue
        text = " ".join(_text(note).split())
        if text:
            found.append(text)
    return found


def _ole_kind(path: Path) -> str:
    import olefile  # noqa: PLC0415

    try:
        with olefile.OleFileIO(str(path)) as ole:
            encrypted = ole.exists("EncryptionInfo") or ole.exists("EncryptedPackage")
    except OSError:
        encrypted = False
    if encrypted:
        return "password-protected DOCX: remove the password (or save an unprotected copy) and upload it again"
    return "an old binary Word (.doc) file, not a DOCX: save it as .docx and upload it again"
