"""Documents rendered from known text by LibreOffice (headless), as publishers and offices produce them: running
headers, page numbers in the footer, footnotes, tables, two columns, English hyphenation, Korean fonts.

Each document is written as a flat ODT (`.fodt`) and converted to PDF, DOCX, EPUB or HTML in one soffice call per
format. `Rendered.body` is what a perfect reader returns (paragraphs, table rows with cells joined by " | ", then the
footnotes) and `Rendered.junk` what must not come back (the running header, the page numbers as printed)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

FILTERS = {"pdf": "pdf:writer_pdf_Export", "docx": "docx:MS Word 2007 XML", "epub": "epub", "html": "html"}


@dataclass(frozen=True)
class Layout:
    header: str = ""  # a running header on every page ("" for none)
    page_numbers: bool = True  # "- N -" centred in the footer
    columns: int = 1
    footnotes: list[str] = field(default_factory=list)  # attached to the first paragraphs, one each
    table: list[list[str]] = field(default_factory=list)  # rows of cells, placed after the first paragraph
    language: str = "ko"  # "en" turns hyphenation on
    font_size: float = 10.5


@dataclass
class SourceDoc:
    name: str
    paragraphs: list[str]
    layout: Layout = Layout()

    @property
    def body(self) -> str:
        rows = [" | ".join(row) for row in self.layout.table]
        lines = self.paragraphs[:1] + rows + self.paragraphs[1:] + self.layout.footnotes
        return "\n".join(lines)


@dataclass
class Rendered:
    source: SourceDoc
    path: Path

    @property
    def body(self) -> str:
        return self.source.body

    @property
    def junk(self) -> list[str]:
        return [self.source.layout.header] if self.source.layout.header else []


def soffice() -> str:
    found = shutil.which("soffice")
    if found is None:
        pytest.skip("LibreOffice (soffice) not installed")
    return found


def render(docs: list[SourceDoc], formats: list[str], out_dir: Path) -> list[Rendered]:
    """Every document in every format, in `out_dir` (one soffice call per format)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = []
    for doc in docs:
        path = out_dir / f"{doc.name}.fodt"
        path.write_text(fodt(doc), encoding="utf-8")
        sources.append(path)
    profile = out_dir / f".profile-{uuid.uuid4().hex[:8]}"
    rendered = []
    for fmt in formats:
        subprocess.run([soffice(), f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to",
                        FILTERS[fmt], "--outdir", str(out_dir), *map(str, sources)],
                       check=True, capture_output=True, timeout=600)
        for doc in docs:
            path = out_dir / f"{doc.name}.{fmt}"
            assert path.exists(), f"LibreOffice did not write {path.name}"
            rendered.append(Rendered(doc, path))
    shutil.rmtree(profile, ignore_errors=True)
    return rendered


def fodt(doc: SourceDoc) -> str:
    layout = doc.layout
    country = "KR" if layout.language == "ko" else "US"
    font = "NanumMyeongjo" if layout.language == "ko" else "Liberation Serif"
    hyphenate = "true" if layout.language == "en" else "false"
    header = (f"<style:header><text:p text:style-name=\"Furniture\">{escape(layout.header)}</text:p></style:header>"
              if layout.header else "")
    footer = ("<style:footer><text:p text:style-name=\"Furniture\">- <text:page-number text:select-page=\"current\"/>"
              " -</text:p></style:footer>" if layout.page_numbers else "")
    body = []
    notes = list(layout.footnotes)
    for number, paragraph in enumerate(doc.paragraphs):
        note = ""
        if notes:
            text = notes.pop(0)
            note = (f"<text:note text:id=\"n{number}\" text:note-class=\"footnote\"><text:note-citation>{number + 1}"
                    f"</text:note-citation><text:note-body><text:p text:style-name=\"Body\">{escape(text)}</text:p>"
                    "</text:note-body></text:note>")
        body.append(f"<text:p text:style-name=\"Body\">{escape(paragraph)}{note}</text:p>")
        if number == 0 and layout.table:
            body.append(_table(layout.table))
    content = "".join(body)
    if layout.columns > 1:
        content = f"<text:section text:style-name=\"Columns\" text:name=\"Body\">{content}</text:section>"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.text">
 <office:font-face-decls><style:font-face style:name="{font}" svg:font-family="'{font}'"/></office:font-face-decls>
 <office:styles>
  <style:style style:name="Body" style:family="paragraph">
   <style:paragraph-properties fo:margin-bottom="0.2cm" fo:text-align="justify"/>
   <style:text-properties style:font-name="{font}" style:font-name-asian="{font}" fo:font-size="{layout.font_size}pt"
    style:font-size-asian="{layout.font_size}pt" fo:language="{layout.language}" fo:country="{country}"
    style:language-asian="ko" style:country-asian="KR" fo:hyphenate="{hyphenate}"
    fo:hyphenation-remain-char-count="2" fo:hyphenation-push-char-count="2"/>
  </style:style>
  <style:style style:name="Furniture" style:family="paragraph">
   <style:paragraph-properties fo:text-align="center"/>
   <style:text-properties style:font-name="{font}" style:font-name-asian="{font}" fo:font-size="9pt" style:font-size-asian="9pt"/>
  </style:style>
 </office:styles>
 <office:automatic-styles>
  <style:page-layout style:name="Page"><style:page-layout-properties fo:page-width="21cm" fo:page-height="29.7cm"
   fo:margin-top="1.5cm" fo:margin-bottom="1.5cm" fo:margin-left="2cm" fo:margin-right="2cm"/>
   <style:header-style><style:header-footer-properties fo:min-height="0.6cm" fo:margin-bottom="0.4cm"/></style:header-style>
   <style:footer-style><style:header-footer-properties fo:min-height="0.6cm" fo:margin-top="0.4cm"/></style:footer-style>
  </style:page-layout>
  <style:style style:name="Columns" style:family="section"><style:section-properties>
   <style:columns fo:column-count="{layout.columns}" fo:column-gap="0.8cm"/></style:section-properties></style:style>
 </office:automatic-styles>
 <office:master-styles><style:master-page style:name="Standard" style:page-layout-name="Page">{header}{footer}
 </style:master-page></office:master-styles>
 <office:body><office:text>{content}</office:text></office:body>
</office:document>
"""


def _table(rows: list[list[str]]) -> str:
    width = max(len(row) for row in rows)
    cells = "".join(
        "<table:table-row>" + "".join(f"<table:table-cell office:value-type=\"string\"><text:p text:style-name=\"Body\">"
                                      f"{escape(cell)}</text:p></table:table-cell>" for cell in row) + "</table:table-row>"
        for row in rows)
    return (f"<table:table table:name=\"T1\"><table:table-column table:number-columns-repeated=\"{width}\"/>"
            f"{cells}</table:table>")
