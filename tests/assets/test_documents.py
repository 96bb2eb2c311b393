"""Documents through the whole pipeline: a partner's HWP, HWPX, PDF, DOCX, EPUB and HTML files are read into text,
paid by their tokens, and say how they were read; a protected or hostile document is refused with its reason and
costs nothing to the others in the same submission."""

from __future__ import annotations

import os
import shutil

import pypdf
import pytest

from conftest import corpus, seoul
from tests.documents.hwp5 import Table, write_hwp
from tests.documents.hwpx import write_hwpx
from tests.documents.libreoffice import Layout, SourceDoc, render
from tests.documents.scans import image_only_pdf


@pytest.fixture(scope="module")
def laws() -> list[str]:
    return [d["text"] for d in corpus("ko_laws", "laws.jsonl.gz", limit=12) if len(d["text"]) > 2000][:8]


def _drop_file(onett, name: str, source, when) -> None:
    target = onett.landing / "한국법제연구원" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    os.utime(target, (when.timestamp(), when.timestamp()))


def test_hwp_and_hwpx_are_paid_and_a_protected_one_is_refused(onett, laws, tmp_path):
    when = seoul(2026, 9, 10)
    write_hwp(tmp_path / "법령.hwp", [laws[0].split("\n"), [Table([["조", "내용"], ["제1조", "목적"]])]])
    write_hwpx(tmp_path / "법령.hwpx", [laws[1].split("\n")])
    write_hwp(tmp_path / "배포용.hwp", [laws[2].split("\n")], distribution=True)
    for name in ("법령.hwp", "법령.hwpx", "배포용.hwp"):
        _drop_file(onett, name, tmp_path / name, when)
    onett.ok("ingest")

    files = {f: (s, e, n, notes) for f, s, e, n, notes in onett.query(
        "SELECT file, status, error, docs_read, notes FROM uploads ORDER BY file")}
    assert files["법령.hwp"][:3] == ("accepted", "", 1)
    assert files["법령.hwp"][3] == "법령.hwp: read by onett hwp5 reader 1: 2 of 2 sections"
    assert files["법령.hwpx"][:3] == ("accepted", "", 1) and "read by onett hwpx reader" in files["법령.hwpx"][3]
    assert files["배포용.hwp"][:2] == ("rejected", "배포용.hwp: distribution-protected HWP document (배포용 문서): "
                                                "its text is encrypted")
    tokens = dict(onett.query("SELECT file, tokens FROM documents WHERE status = 'accepted'"))
    assert set(tokens) == {"법령.hwp", "법령.hwpx"}

    # The same statutes uploaded later as plain text: the HWPX one is the very same text (an exact duplicate of
    # what was read from the document), the HWP one is that text plus its table's rows.
    onett.drop("후발주자", "법령.txt", laws[0], seoul(2026, 9, 20))
    onett.drop("후발주자", "법령2.txt", laws[1], seoul(2026, 9, 20))
    onett.ok("ingest")
    plain = {f: (s, t, d) for f, s, t, d in onett.query(
        "SELECT file, status, tokens, duplicate_of FROM documents WHERE contributor_id = '후발주자'")}
    assert plain["법령2.txt"] == ("duplicate", tokens["법령.hwpx"], "한국법제연구원/법령.hwpx#0")
    assert plain["법령.txt"][0] == "near_duplicate" and plain["법령.txt"][2] == "한국법제연구원/법령.hwp#0"
    assert 0 < tokens["법령.hwp"] - plain["법령.txt"][1] < 20


def test_every_format_is_paid_and_hostile_documents_cost_only_themselves(onett, laws, tmp_path):
    """One submission: a statute in each format rendered by LibreOffice, plus a scan, a password-protected PDF and
    a truncated DOCX. The good ones are accepted with their provenance, the others rejected with their reasons, and
    the scan pays nothing."""

    when = seoul(2026, 9, 12)
    sources = [SourceDoc(f"law{n}", [line for line in laws[n].split("\n") if line.strip()],
                         Layout(header="한국법제연구원 법령집")) for n in range(4)]
    formats = ["pdf", "docx", "epub", "html"]
    for number, fmt in enumerate(formats):
        path = render([sources[number]], [fmt], tmp_path)[0].path
        _drop_file(onett, f"법령{number}.{fmt}", path, when)
    locked = tmp_path / "locked.pdf"
    writer = pypdf.PdfWriter(clone_from=str(tmp_path / "law0.pdf"))
    writer.encrypt("secret")
    writer.write(str(locked))
    _drop_file(onett, "잠김.pdf", locked, when)
    truncated = tmp_path / "truncated.docx"
    truncated.write_bytes((tmp_path / "law1.docx").read_bytes()[:1500])
    _drop_file(onett, "잘림.docx", truncated, when)
    _drop_file(onett, "스캔.pdf", image_only_pdf(tmp_path / "law0.pdf", tmp_path / "scan.pdf", pages=4), when)
    onett.ok("ingest")

    files = {f: (s, e, notes) for f, s, e, notes in onett.query("SELECT file, status, error, notes FROM uploads")}
    for number, fmt in enumerate(formats):
        status, error, notes = files[f"법령{number}.{fmt}"]
        assert (status, error) == ("accepted", ""), (fmt, error)
        assert notes.startswith(f"법령{number}.{fmt}: read by "), notes
    assert "running headers, footers and page numbers removed" in files["법령0.pdf"][2]
    assert files["잠김.pdf"][:2] == ("rejected", "잠김.pdf: password-protected PDF: remove the password and upload "
                                                "it again")
    assert files["스캔.pdf"][:2] == ("rejected", "스캔.pdf: no text layer on any of its 4 pages: needs OCR")
    assert files["잘림.docx"][0] == "rejected" and files["잘림.docx"][1].startswith("잘림.docx: corrupt or truncated DOCX")
    paid = dict(onett.query("SELECT file, tokens FROM documents WHERE status = 'accepted'"))
    assert set(paid) == {f"법령{n}.{fmt}" for n, fmt in enumerate(formats)} and min(paid.values()) > 500


def test_documents_inside_a_zip_archive_are_read_each_with_its_provenance(onett, laws, tmp_path):
    import zipfile

    write_hwp(tmp_path / "a.hwp", [laws[6].split("\n")])
    write_hwpx(tmp_path / "b.hwpx", [laws[7].split("\n")])
    write_hwp(tmp_path / "c.hwp", [laws[3].split("\n")], password=True)
    with zipfile.ZipFile(tmp_path / "법령집.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(tmp_path / "a.hwp", "2025/민법.hwp")
        archive.write(tmp_path / "b.hwpx", "2025/상법.hwpx")
        archive.write(tmp_path / "c.hwp", "2025/비공개.hwp")
    _drop_file(onett, "법령집.zip", tmp_path / "법령집.zip", seoul(2026, 9, 14))
    onett.ok("ingest")

    status, error, notes, read = onett.query("SELECT status, error, notes, docs_read FROM uploads")[0]
    assert (status, read) == ("partially accepted", 2)
    assert error == "1 record(s) skipped: 법령집.zip/2025/비공개.hwp: password-protected HWP document"
    assert notes.split("; ")[0] == "법령집.zip/2025/민법.hwp: read by onett hwp5 reader 1: 1 of 1 sections"
    assert dict(onett.query("SELECT file, status FROM documents")) == {
        "법령집.zip/2025/민법.hwp": "accepted", "법령집.zip/2025/상법.hwpx": "accepted"}
