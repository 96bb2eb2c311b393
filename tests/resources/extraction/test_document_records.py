"""How a document's extraction becomes upload records: one document per file (or per section when asked), text
beyond the size of a record cut at paragraph boundaries, documents inside zip archives, the provenance in the notes,
and a refusal that names the file. The reader here is a stand-in whose sections are the file's JSON content, so
what is checked is the plumbing, whatever the format; the readers themselves are tested beside it."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from conftest import corpus
from onett_resources.extraction import Extraction, ExtractionLimits, Section, UnsupportedFormat
from onett_resources.extraction.worker import ExtractionWorker
from onett_resources.formats import Limits, ReadResult, read_stream


def sections_of(path: Path, suffix: str, limits: ExtractionLimits) -> Extraction:
    content = json.loads(path.read_text())
    if "refuse" in content:
        raise UnsupportedFormat(content["refuse"])
    return Extraction([Section(text, title) for title, text in content["sections"]], f"stand-in for {suffix}",
                      "chapters", len(content["sections"]), skipped=content.get("skipped", 0),
                      skipped_why="no text layer: needs OCR", removed_chars=content.get("removed", 0))


@pytest.fixture(scope="module")
def worker():
    with ExtractionWorker(seconds=60, reader=sections_of) as worker:
        yield worker


@pytest.fixture(scope="module")
def chapters() -> list[tuple[str, str]]:
    texts = [d["text"] for d in corpus("ko_laws", "laws.jsonl.gz", limit=3)]
    return [(f"제{i}장", text) for i, text in enumerate(texts, start=1)]


def read(name: str, data: bytes, worker, limits: Limits = Limits()) -> ReadResult:
    result = ReadResult()
    read_stream(name, io.BytesIO(data), result, limits, documents=worker)
    return result


def document(chapters, **extra) -> bytes:
    return json.dumps({"sections": chapters, **extra}, ensure_ascii=False).encode()


def test_a_document_is_one_record_with_its_provenance_in_the_notes(worker, chapters):
    result = read("책.epub", document(chapters, skipped=2, removed=1234), worker)
    assert [(r.position, r.doc_id) for r in result.records] == [(0, None)]
    assert result.records[0].text == "\n\n".join(text for _, text in chapters)
    assert result.notes == ["책.epub: read by stand-in for .epub: 3 of 5 chapters; 2 skipped (no text layer: needs OCR); "
                            "1,234 characters of running headers, footers and page numbers removed"]


def test_sections_become_documents_when_asked(worker, chapters):
    result = read("책.epub", document(chapters), worker, Limits(split_sections=True))
    assert [(r.position, r.doc_id, r.text) for r in result.records] == [
        (i, title, text) for i, (title, text) in enumerate(chapters)]
    assert result.notes[0].endswith("; 3 chapters read as documents of their own")


def test_text_beyond_a_record_is_cut_at_paragraph_boundaries(worker, chapters):
    whole = "\n\n".join(text for _, text in chapters)
    limit = max(len(text) for _, text in chapters) + 10
    result = read("책.epub", document(chapters), worker, Limits(max_document_bytes=limit))
    assert len(result.records) > 1 and all(len(r.text) <= limit for r in result.records)
    assert "\n\n".join(r.text for r in result.records) == whole  # nothing lost or repeated at the cuts
    assert [r.position for r in result.records] == list(range(len(result.records)))
    assert "cut at paragraph boundaries" in result.notes[0]


def test_documents_inside_a_zip_are_read_and_a_refused_one_costs_only_itself(worker, chapters):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("보고서/1장.pdf", document(chapters[:1]))
        archive.writestr("보고서/잠김.pdf", json.dumps({"refuse": "password-protected PDF"}))
        archive.writestr("보고서/2장.hwp", document(chapters[1:]))
    result = read("보고서.zip", buffer.getvalue(), worker)
    assert [r.file for r in result.records] == ["보고서.zip/보고서/1장.pdf", "보고서.zip/보고서/2장.hwp"]
    assert result.problems == ["보고서.zip/보고서/잠김.pdf: password-protected PDF"]
    assert [n.split(":")[0] for n in result.notes] == ["보고서.zip/보고서/1장.pdf", "보고서.zip/보고서/2장.hwp"]


def test_a_refused_or_empty_document_names_the_file(worker):
    with pytest.raises(UnsupportedFormat, match="^스캔.pdf: no text layer on any of its 12 pages: needs OCR$"):
        read("스캔.pdf", json.dumps({"refuse": "no text layer on any of its 12 pages: needs OCR"}).encode(), worker)
    with pytest.raises(UnsupportedFormat, match="^빈.docx: no text in the document"):
        read("빈.docx", document([["", "  \n"]]), worker)


def test_without_a_worker_documents_are_not_read_in_the_calling_process(chapters):
    with pytest.raises(UnsupportedFormat, match="are read only by ingest"):
        read("책.epub", document(chapters), None)
