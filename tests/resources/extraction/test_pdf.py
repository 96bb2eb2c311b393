"""The PDF reader on PDFs LibreOffice rendered from real text (running header, page numbers in the footer, two
columns, footnotes, a table, English hyphenation), on scans and on hostile files: text in reading order without its
page furniture, scans refused as needing OCR, every unreadable PDF refused with its reason."""

from __future__ import annotations

import time

import pypdf
import pypdfium2 as pdfium
import pytest
from rapidfuzz.distance import Indel

from conftest import corpus
from onett_resources.extraction import ExtractionLimits, UnsupportedFormat, extract_document
from tests.documents.libreoffice import Layout, SourceDoc, render
from tests.documents.scans import image_only_pdf


def english_paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Korean statutes of 3 to 12 pages, one and two columns, and an English novel's chapters in two hyphenated
    columns."""
    laws = [d["text"] for d in corpus("ko_laws", "laws.jsonl.gz", limit=30) if 8000 < len(d["text"]) < 40000][:4]
    novel = corpus("en_gutenberg_editions", "editions.jsonl.gz", limit=1)[0]["text"][:30000]
    docs = [SourceDoc(f"law{n}", [line.strip() for line in text.split("\n") if line.strip()],
                      Layout(header="한국법제연구원 법령집", columns=1 + n % 2, footnotes=["이 조는 2020년에 개정되었다."],
                             table=[["구분", "내용"], ["제1조", "목적"]]))
            for n, text in enumerate(laws)]
    docs.append(SourceDoc("novel", english_paragraphs(novel),
                          Layout(header="Project Gutenberg Edition", language="en", columns=2)))
    return {r.source.name: r for r in render(docs, ["pdf"], tmp_path_factory.mktemp("pdf"))}


def read(path, limits=ExtractionLimits()):
    return extract_document(path, ".pdf", limits)


def test_rendered_text_reads_back_without_page_furniture(rendered):
    for name, document in rendered.items():
        extraction = read(document.path)
        assert Indel.normalized_similarity(document.body, extraction.text) >= 0.98, name
        assert not any(junk in extraction.text for junk in document.junk), name
        assert "- 2 -" not in extraction.text and extraction.removed_chars > 0
        assert (extraction.unit, extraction.skipped) == ("pages", 0) and extraction.read >= 3


def test_two_columns_are_read_column_by_column_and_hyphenation_is_undone(rendered):
    novel = rendered["novel"]
    text = read(novel.path).text
    prose = [p for p in english_paragraphs(corpus("en_gutenberg_editions", "editions.jsonl.gz", limit=1)[0]["text"]
                                           [:30000]) if len(p) > 300]
    assert len(prose) > 10
    positions = [text.find(paragraph[:60]) for paragraph in prose]
    assert -1 not in positions and positions == sorted(positions)  # every paragraph, in reading order
    for paragraph, at in zip(prose, positions):
        # Whole: at most a compound hyphen lost at a line end ("dram-drinker" read as hyphenation).
        assert Indel.normalized_similarity(paragraph, text[at:at + len(paragraph)]) >= 0.995
    assert "\ufffe" not in text and "\ufdd2" not in text


def test_a_scan_needs_ocr_and_pays_nothing_and_a_mixed_pdf_keeps_its_text_pages(rendered, tmp_path):
    law = rendered["law0"]
    with pytest.raises(UnsupportedFormat, match="^no text layer on any of its 3 pages: needs OCR$"):
        read(image_only_pdf(law.path, tmp_path / "scan.pdf", pages=3))
    mixed = pdfium.PdfDocument(str(law.path))
    text_pages = len(mixed)
    mixed.import_pages(pdfium.PdfDocument(str(image_only_pdf(law.path, tmp_path / "two.pdf"))))
    mixed.save(str(tmp_path / "mixed.pdf"))
    extraction = read(tmp_path / "mixed.pdf")
    assert (extraction.read, extraction.skipped, extraction.skipped_why) == (text_pages, 2, "no text layer: needs OCR")
    assert extraction.text == read(law.path).text


def test_hostile_and_broken_pdfs_are_refused_with_their_reason(rendered, tmp_path):
    law = rendered["law0"].path
    locked = tmp_path / "locked.pdf"
    writer = pypdf.PdfWriter(clone_from=str(law))
    writer.encrypt("secret")
    writer.write(str(locked))
    with pytest.raises(UnsupportedFormat, match="^password-protected PDF"):
        read(locked)
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(law.read_bytes()[:2000])
    with pytest.raises(UnsupportedFormat, match=r"^corrupt or truncated PDF"):
        read(truncated)
    nested = tmp_path / "nested.pdf"
    nested.write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R /X " + b"[" * 200_000 + b"]" * 200_000 +
                       b" >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n")
    with pytest.raises(UnsupportedFormat, match=r"^corrupt or truncated PDF"):
        read(nested)


def test_a_page_count_beyond_the_limit_is_refused_before_any_page_is_read(tmp_path):
    many = pdfium.PdfDocument.new()
    for _ in range(2001):
        many.new_page(100, 100)
    many.save(str(tmp_path / "many.pdf"))
    started = time.monotonic()
    with pytest.raises(UnsupportedFormat, match="^2,001 pages, more than the 2,000 a document may have$"):
        read(tmp_path / "many.pdf", ExtractionLimits(max_pages=2000))
    assert time.monotonic() - started < 5
