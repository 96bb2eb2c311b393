"""EPUB books read chapter by chapter, in the order a reader turns the pages.

An EPUB is a zip: `META-INF/container.xml` names the package document (OPF), whose spine lists the chapters
(XHTML) in reading order. Each chapter becomes a section titled by its first heading; the navigation document is
the book's table of contents, not its text. A member named with an absolute or `..` path is never read (it would
point outside the book); a book whose chapters are encrypted (DRM) is refused, while obfuscated fonts, which EPUB
allows, are no obstacle."""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path

from onett_resources.extraction.base import (
    Extraction, ExtractionLimits, Section, UnsupportedFormat, read_member, read_xml,
)
from onett_resources.extraction.markup import paragraphs

READER = "onett epub reader 1"
FONTS = (".ttf", ".otf", ".woff", ".woff2")
CHAPTER_TYPES = ("application/xhtml+xml", "text/html", "application/x-dtbook+xml")
_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_OPF = "{http://www.idpf.org/2007/opf}"
_ENCRYPTION = "{http://www.w3.org/2001/04/xmlenc#}"


def extract(path: Path, limits: ExtractionLimits) -> Extraction:
    try:
        book = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise UnsupportedFormat("corrupt or truncated EPUB (not a readable zip archive)") from None
    with book:
        try:
            return _read(book, limits)
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise UnsupportedFormat(f"corrupt or truncated EPUB ({exc})") from None


def _read(book: zipfile.ZipFile, limits: ExtractionLimits) -> Extraction:
    names = set(book.namelist())
    _refuse_drm(book, names, limits)
    if "META-INF/container.xml" not in names:
        raise UnsupportedFormat("not an EPUB book (no META-INF/container.xml)")
    rootfile = read_xml(book, "META-INF/container.xml", limits).find(f".//{_CONTAINER}rootfile")
    package = rootfile.get("full-path", "") if rootfile is not None else ""
    if not package or not _inside(package):
        raise UnsupportedFormat(f"the EPUB's package document path {package!r} is missing or leaves the book")
    opf = read_xml(book, package, limits)
    base = posixpath.dirname(package)
    manifest = {item.get("id"): item for item in opf.iter(f"{_OPF}item")}
    sections, skipped, reasons, total = [], 0, [], 0
    for itemref in opf.iter(f"{_OPF}itemref"):
        item = manifest.get(itemref.get("idref"))
        if item is None or "nav" in (item.get("properties") or "").split() \
                or item.get("media-type", CHAPTER_TYPES[0]) not in CHAPTER_TYPES:
            continue  # the table of contents (EPUB 3 nav), or an image or NCX listed in the spine
        href = item.get("href") or ""
        member = posixpath.normpath(posixpath.join(base, href.split("#")[0])) if _inside(href) else ""
        if not member or not _inside(member):
            skipped += 1
            reasons.append(f"{href!r}: an absolute or '..' path, never read")
            continue
        if member not in names:
            skipped += 1
            reasons.append(f"{href!r}: missing from the book")
            continue
        title, found = paragraphs(_decode(read_member(book, member, limits)))
        total += sum(map(len, found))
        if total > limits.max_text_chars:
            raise UnsupportedFormat(f"more than {limits.max_text_chars >> 20} M characters of text")
        if found:
            sections.append(Section("\n".join(found), title))
    if not sections and skipped:
        raise UnsupportedFormat(f"no chapter of the EPUB could be read ({'; '.join(reasons[:3])})")
    return Extraction(sections, READER, "chapters", len(sections), skipped, "; ".join(reasons[:5]))


def _refuse_drm(book: zipfile.ZipFile, names: set[str], limits: ExtractionLimits) -> None:
    if "META-INF/encryption.xml" not in names:
        return
    encrypted = [reference.get("URI", "") for reference in
                 read_xml(book, "META-INF/encryption.xml", limits).iter(f"{_ENCRYPTION}CipherReference")]
    if any(not uri.lower().endswith(FONTS) for uri in encrypted):
        raise UnsupportedFormat("DRM-protected EPUB: its chapters are encrypted")


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    return data.decode("utf-8-sig", errors="replace")


def _inside(name: str) -> bool:
    return bool(name) and not name.startswith("/") and ".." not in name.replace("\\", "/").split("/") \
        and ":" not in name.split("/")[0]
