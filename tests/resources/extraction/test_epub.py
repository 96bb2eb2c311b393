"""The EPUB reader on books LibreOffice wrote from real text, and on hand-built books for what a hostile or
protected one does: chapters in spine order, the navigation document left out, member paths that leave the book
never read, DRM refused."""

from __future__ import annotations

import io
import zipfile

import pytest
from rapidfuzz.distance import Indel

from conftest import corpus
from onett_resources.extraction import UnsupportedFormat, extract_document
from tests.documents.libreoffice import Layout, SourceDoc, render

CONTAINER = ('<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
             '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
             "</rootfiles></container>")


@pytest.fixture(scope="module")
def laws() -> list[str]:
    return [d["text"] for d in corpus("ko_laws", "laws.jsonl.gz", limit=10) if 2000 < len(d["text"]) < 80000][:3]


def read(path):
    return extract_document(path, ".epub")


def test_libreoffice_books_read_back(laws, tmp_path):
    layout = Layout(header="한국법제연구원 법령집", footnotes=["이 조는 2020년에 개정되었다."],
                    table=[["구분", "내용"], ["제1조", "목적"]])
    docs = [SourceDoc(f"law{n}", [line.strip() for line in text.split("\n") if line.strip()], layout)
            for n, text in enumerate(laws)]
    for book in render(docs, ["epub"], tmp_path):
        extraction = read(book.path)
        assert Indel.normalized_similarity(book.body, extraction.text) >= 0.98, book.path.name
        assert not any(junk in extraction.text for junk in book.junk)
        assert (extraction.reader, extraction.unit, extraction.skipped) == ("onett epub reader 1", "chapters", 0)


def chapter(title: str, text: str) -> str:
    paragraphs = "".join(f"<p>{line}</p>" for line in text.split("\n") if line.strip())
    return (f'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE html><html xmlns="http://www.w3.org/1999/xhtml">'
            f"<head><title>{title}</title><style>p {{ margin: 0 }}</style></head><body><h1>{title}</h1>{paragraphs}"
            "</body></html>")


def book(items: list[tuple[str, str, str]], spine: list[str], extra: dict[str, str] | None = None) -> bytes:
    """items: (id, href, content); spine: ids in reading order."""
    manifest = "".join(f'<item id="{i}" href="{href}" media-type="{media_type(href)}"'
                       f'{" properties=&quot;nav&quot;" if i == "nav" else ""}/>' for i, href, _ in items)
    manifest = manifest.replace("&quot;", '"')
    opf = (f'<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0"><metadata/>'
           f"<manifest>{manifest}</manifest><spine>{''.join(f'<itemref idref={chr(34)}{i}{chr(34)}/>' for i in spine)}"
           "</spine></package>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as epub:
        epub.writestr("mimetype", "application/epub+zip")
        epub.writestr("META-INF/container.xml", CONTAINER)
        epub.writestr("OEBPS/content.opf", opf)
        for _, href, content in items:
            if not href.startswith(("/", "..")):
                epub.writestr(f"OEBPS/{href}", content)
        for name, content in (extra or {}).items():
            epub.writestr(name, content)
    return buffer.getvalue()


def media_type(href: str) -> str:
    return {".jpg": "image/jpeg", ".ncx": "application/x-dtbncx+xml"}.get(href[href.rfind("."):],
                                                                          "application/xhtml+xml")


def test_chapters_come_in_spine_order_without_the_navigation(laws, tmp_path):
    items = [("nav", "nav.xhtml", chapter("목차", "제1장\n제2장")), ("c2", "text/c2.xhtml", chapter("제2장", laws[1])),
             ("c1", "text/c1.xhtml", chapter("제1장", laws[0])), ("cover", "cover.jpg", "\xff\xd8 표지 JFIF"),
             ("ncx", "toc.ncx", "<ncx><navMap><navPoint><text>목차 항목</text></navPoint></navMap></ncx>")]
    path = tmp_path / "법령집.epub"
    path.write_bytes(book(items, ["nav", "cover", "ncx", "c1", "c2"]))
    extraction = read(path)
    assert [s.title for s in extraction.sections] == ["제1장", "제2장"]
    source = "\n".join(line.strip() for line in laws[0].split("\n") if line.strip())
    assert Indel.normalized_similarity("제1장\n" + source, extraction.sections[0].text) >= 0.99
    assert "목차" not in extraction.text and "표지" not in extraction.text
    assert (extraction.read, extraction.skipped) == (2, 0)


def test_member_paths_that_leave_the_book_are_never_read(laws, tmp_path):
    items = [("c1", "c1.xhtml", chapter("제1장", laws[0])), ("up", "../../etc/passwd", ""),
             ("abs", "/etc/passwd", "")]
    path = tmp_path / "탈출.epub"
    path.write_bytes(book(items, ["c1", "up", "abs"]))
    extraction = read(path)
    assert extraction.read == 1 and extraction.skipped == 2
    assert extraction.skipped_why == ("'../../etc/passwd': an absolute or '..' path, never read; "
                                      "'/etc/passwd': an absolute or '..' path, never read")
    only_escapes = tmp_path / "탈출만.epub"
    only_escapes.write_bytes(book(items[1:], ["up", "abs"]))
    with pytest.raises(UnsupportedFormat, match="^no chapter of the EPUB could be read"):
        read(only_escapes)


ENCRYPTION = ('<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
              'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData><enc:CipherData>'
              '<enc:CipherReference URI="{uri}"/></enc:CipherData></enc:EncryptedData></encryption>')


def test_drm_is_refused_and_obfuscated_fonts_are_not(laws, tmp_path):
    items = [("c1", "c1.xhtml", chapter("제1장", laws[0]))]
    locked = tmp_path / "잠김.epub"
    locked.write_bytes(book(items, ["c1"], {"META-INF/encryption.xml": ENCRYPTION.format(uri="OEBPS/c1.xhtml")}))
    with pytest.raises(UnsupportedFormat, match="^DRM-protected EPUB: its chapters are encrypted$"):
        read(locked)
    fonts = tmp_path / "글꼴.epub"
    fonts.write_bytes(book(items, ["c1"], {"META-INF/encryption.xml": ENCRYPTION.format(uri="OEBPS/fonts/a.otf")}))
    assert read(fonts).read == 1


def test_broken_books_say_why(laws, tmp_path):
    whole = book([("c1", "c1.xhtml", chapter("제1장", laws[0]))], ["c1"])
    truncated = tmp_path / "잘림.epub"
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(UnsupportedFormat, match="^corrupt or truncated EPUB"):
        read(truncated)
    no_container = tmp_path / "빈.epub"
    with zipfile.ZipFile(no_container, "w") as epub:
        epub.writestr("mimetype", "application/epub+zip")
    with pytest.raises(UnsupportedFormat, match=r"^not an EPUB book \(no META-INF/container.xml\)$"):
        read(no_container)
    bomb = tmp_path / "폭탄.epub"
    entities = '<?xml version="1.0"?><!DOCTYPE c [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><container>&b;</container>'
    with zipfile.ZipFile(bomb, "w") as epub:
        epub.writestr("META-INF/container.xml", entities)
    with pytest.raises(UnsupportedFormat, match="declares a DTD or entities"):
        read(bomb)
