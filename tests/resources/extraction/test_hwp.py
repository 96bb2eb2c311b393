"""The HWP 5 reader on documents written by onett's HWP 5 writer from real Korean text (statutes, court decisions):
the text comes back, tables as rows, notes after the body, drawings and running headers left out, and every
document that cannot be read is refused with its reason.

LibreOffice is no independent check here: its HWP filter reads only HWP 97 (version 3) files and refuses HWP 5
files, Hancom's own included ("source file could not be loaded")."""

from __future__ import annotations

import struct
import zlib

import pytest
from rapidfuzz.distance import Indel

from onett_resources.extraction import ExtractionLimits, UnsupportedFormat, extract_document
from onett_resources.extraction.hwp import paragraph_text
from conftest import corpus
from tests.documents.hwp5 import (
    PARA_CHAR_SHAPE, PARA_TEXT, Header, Paragraph, Picture, Table, TextBox, compound_file, doc_info, file_header,
    paragraph, record, write_hwp,
)
from tests.documents.hwpx import write_hwpx


@pytest.fixture(scope="module")
def sources():
    laws = corpus("ko_laws", "laws.jsonl.gz")
    precedents = corpus("ko_court_precedents", "precedents.jsonl.gz", limit=40)
    long = min(laws, key=lambda doc: abs(len(doc["text"]) - 120_000))
    middling = min(laws, key=lambda doc: abs(len(doc["text"]) - 40_000))
    return [long["text"], middling["text"], *(doc["text"] for doc in precedents[:2])]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("hwp")


def read(path, limits=ExtractionLimits()):
    return extract_document(path, ".hwp", limits)


def rejection(path, limits=ExtractionLimits()) -> str:
    with pytest.raises(UnsupportedFormat) as caught:
        read(path, limits)
    return str(caught.value)


@pytest.mark.parametrize("compressed", [True, False], ids=["compressed", "uncompressed"])
def test_corpus_text_reads_back(sources, folder, compressed):
    for number, text in enumerate(sources):
        path = write_hwp(folder / f"doc{number}-{compressed}.hwp", [text.split("\n")], compressed=compressed)
        extraction = read(path)
        assert Indel.normalized_similarity(text, extraction.text) >= 0.98, (number, len(text))
        assert (extraction.reader, extraction.unit, extraction.read, extraction.skipped) == (
            "onett hwp5 reader 1", "sections", 1, 0)


def test_hwp_written_by_python_hwpx_reads_back(sources, folder):
    """python-hwpx (Apache-2.0) writes HWP 5 files of its own, with the DocInfo and layout records Hancom Office
    writes: a writer independent of ours."""
    for number, text in enumerate(sources[1:]):
        extraction = read(write_hwpx(folder / f"python-hwpx-{number}.hwp", [text.split("\n")]))
        assert Indel.normalized_similarity(text, extraction.text) >= 0.98, (number, len(text))


@pytest.fixture(scope="module", params=["onett writer", "python-hwpx"])
def report(sources, folder, request):
    """A court decision in two sections, with a table, notes, a running header, a picture and a text box."""
    lines = [line for line in sources[2].split("\n") if line.strip()]
    half = len(lines) // 2
    body = [
        Header("대법원 판결 머리말"),
        *lines[:3],
        Paragraph(lines[3], footnotes=["민법 제103조 참조"], endnotes=["대법원 1996. 4. 26. 선고 판결"]),
        Table([["사건", "원고", "피고"], ["2019다12345", "소외 1", "주식회사 한빛"]]),
        Table([["상자 안의 안내문 첫째 줄"], ["상자 안의 안내문 둘째 줄"]]),
        TextBox("도형 안의 글상자 문구"),
        Picture(),
        *lines[4:half],
    ]
    write = write_hwp if request.param == "onett writer" else write_hwpx
    path = write(folder / f"report-{request.param}.hwp", [body, lines[half:]])
    return lines, path, read(path)


def test_sections_tables_and_notes(report):
    lines, _, extraction = report
    assert extraction.read == 2 and len(extraction.sections) == 2
    first, second = (section.text.split("\n") for section in extraction.sections)
    assert "사건 | 원고 | 피고" in first and "2019다12345 | 소외 1 | 주식회사 한빛" in first
    assert "상자 안의 안내문 첫째 줄" in first and "상자 안의 안내문 둘째 줄" in first  # a one-column box: lines
    assert first[-2:] == ["민법 제103조 참조", "대법원 1996. 4. 26. 선고 판결"]  # notes after the section's body
    assert first.index(lines[3]) < first.index("사건 | 원고 | 피고") < first.index(lines[4])
    assert Indel.normalized_similarity("\n".join(lines[len(lines) // 2:]), extraction.sections[1].text) >= 0.98


def test_drawings_and_running_headers_are_left_out(report):
    _, _, extraction = report
    assert "도형 안의 글상자" not in extraction.text
    assert "머리말" not in extraction.text
    assert "\ufffd" not in extraction.text


def test_tabs_survive(folder):
    path = write_hwp(folder / "tabs.hwp", [["항목\t내용\t비고"]])
    assert read(path).text == "항목\t내용\t비고"


def test_character_controls():
    tab = struct.pack("<H", 9) + bytes(12) + struct.pack("<H", 9)
    # an extended control whose data holds bytes that look like character codes (13 would end the paragraph)
    field = struct.pack("<H", 3) + b"klh%" + b"\r\x00\n\x00\x18\x00\x1f\x00" + struct.pack("<H", 3)
    def utf16(text):
        return text.encode("utf-16-le")

    data = (utf16("제1조") + tab + utf16("목적") + field + utf16("𠀀 하이픈") + b"\x18\x00" + utf16("연결\n줄")
            + b"\x1f\x00" + utf16("끝\r") + utf16("무시"))
    assert paragraph_text(data) == "제1조\t목적𠀀 하이픈-연결\n줄 끝"


def test_a_damaged_section_is_skipped_when_others_read(sources, folder):
    good = write_hwp(folder / "two.hwp", [["첫째 구역의 문단"], sources[3].split("\n")])
    streams = _streams(good)
    streams["BodyText/Section1"] = streams["BodyText/Section1"][: len(streams["BodyText/Section1"]) // 2]
    damaged = folder / "damaged.hwp"
    damaged.write_bytes(compound_file(streams))
    extraction = read(damaged)
    assert (extraction.read, extraction.skipped) == (1, 1)
    assert "Section1" in extraction.skipped_why and extraction.text == "첫째 구역의 문단"
    assert "1 of 2 sections; 1 skipped (damaged section streams: Section1" in extraction.provenance()


def _streams(path) -> dict[str, bytes]:
    import olefile

    with olefile.OleFileIO(str(path)) as ole:
        return {"/".join(name): ole.openstream(name).read() for name in ole.listdir()}


def test_hwpx_under_the_hwp_suffix_is_read(folder):
    path = write_hwpx(folder / "package.hwpx", [["한글 문서의 본문"]]).rename(folder / "package.hwp")
    extraction = read(path)
    assert extraction.text == "한글 문서의 본문" and "HWPX" in extraction.provenance()


@pytest.mark.parametrize("case, reason", [
    ("password", "password-protected HWP document"),
    ("distribution", "distribution-protected HWP document (배포용 문서): its text is encrypted"),
    ("not ole", "not an HWP document (no OLE compound file header)"),
    ("no file header", "without the HWP FileHeader stream"),
    ("wrong signature", "lacks the HWP signature"),
    ("hwp 3", "HWP 3 (한글 97 or older) document"),
    ("version 4", "HWP format version 4.0.0.0: only version 5 is read"),
    ("bad deflate", "every body text section is damaged (Section0: bad deflate data"),
    ("truncated records", "every body text section is damaged (Section0: truncated record"),
    ("no sections", "no BodyText/Section streams"),
    ("only drawings", "no body text: the document holds only empty paragraphs, pictures or drawings"),
])
def test_unreadable_documents_are_refused(folder, case, reason):
    path = folder / f"{case}.hwp"
    text = [["법률 제1호 본문"]]
    if case == "password":
        write_hwp(path, text, password=True)
    elif case == "distribution":
        write_hwp(path, text, distribution=True)
    elif case == "not ole":
        path.write_text("법률 제1호 본문\n", encoding="utf-8")
    elif case == "no file header":
        path.write_bytes(compound_file({"WordDocument": bytes(5000)}))
    elif case == "wrong signature":
        path.write_bytes(compound_file({"FileHeader": b"Not an HWP file".ljust(256, b"\0")}))
    elif case == "hwp 3":
        path.write_bytes(b"HWP Document File V3.00 \x1a\x01\x02\x03\x04\x05" + bytes(200))
    elif case == "version 4":
        write_hwp(path, text, version=(4, 0, 0, 0))
    elif case == "bad deflate":
        path.write_bytes(compound_file({"FileHeader": file_header((5, 0, 3, 2), 1), "DocInfo": doc_info(1),
                                        "BodyText/Section0": b"\xff" * 6000}))
    elif case == "truncated records":
        section = paragraph("잘린 문단", 0)[:-10]
        path.write_bytes(compound_file({"FileHeader": file_header((5, 0, 3, 2), 0), "DocInfo": doc_info(1),
                                        "BodyText/Section0": section}))
    elif case == "no sections":
        path.write_bytes(compound_file({"FileHeader": file_header((5, 0, 3, 2), 0), "DocInfo": doc_info(0)}))
    elif case == "only drawings":
        write_hwp(path, [[Picture(), TextBox("도형 글"), ""]])
    assert reason in rejection(path)


@pytest.mark.parametrize("compressed, reason", [
    (True, "corrupt OLE compound file: the FileHeader stream cannot be read"),
    (False, "every body text section is damaged (Section0: unreadable stream"),
], ids=["mini stream", "own sectors"])
def test_a_truncated_file_is_refused(sources, folder, compressed, reason):
    whole = write_hwp(folder / f"whole-{compressed}.hwp", [sources[3].split("\n")], compressed=compressed)
    cut = folder / f"cut-{compressed}.hwp"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert reason in rejection(cut)


def test_a_record_claiming_gigabytes_is_a_truncated_record(folder):
    claim = struct.pack("<II", PARA_TEXT | 1 << 10 | 0xFFF << 20, 0xFFFFFFF0) + "짧은 문단".encode("utf-16-le")
    path = folder / "claim.hwp"
    path.write_bytes(compound_file({"FileHeader": file_header((5, 0, 3, 2), 0), "DocInfo": doc_info(1),
                                    "BodyText/Section0": paragraph("앞 문단", 0)[:4 + 24] + claim}))
    assert "truncated record (tag 67: 10 of 4294967280 bytes)" in rejection(path)


def test_private_use_characters_are_counted(folder):
    path = write_hwp(folder / "old-hangul.hwp", [["훈민정음 \ue1a5\ue0bc 옛한글"]])
    extraction = read(path)
    assert extraction.text == "훈민정음 \ue1a5\ue0bc 옛한글"
    assert "2 private-use characters (old Hangul or font symbols) kept as they are" in extraction.provenance()


def test_a_deflate_bomb_stops_at_the_limit(folder):
    flood = record(PARA_CHAR_SHAPE, 1, bytes(8)) * 2_000_000  # 24 MB of records that deflate ~1000:1
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    path = folder / "bomb.hwp"
    path.write_bytes(compound_file({"FileHeader": file_header((5, 0, 3, 2), 1), "DocInfo": doc_info(1),
                                    "BodyText/Section0": packer.compress(flood) + packer.flush()}))
    assert "possible decompression bomb" in rejection(path, ExtractionLimits(max_member_bytes=8 << 20))


def test_text_beyond_the_limit_is_refused(sources, folder):
    path = write_hwp(folder / "long.hwp", [sources[1].split("\n")])
    assert "more than 10,000 characters of text" in rejection(path, ExtractionLimits(max_text_chars=10_000))
