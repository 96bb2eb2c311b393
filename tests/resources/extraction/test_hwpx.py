"""The HWPX reader on packages written by python-hwpx from real Korean text (statutes, court decisions): the text
comes back, tables as rows, notes after the body, drawings and running headers left out, the same text as the
HWP 5 reader gives for the same document, and every package that cannot be read is refused with its reason."""

from __future__ import annotations

import re
import zipfile

import pytest
from rapidfuzz.distance import Indel

from onett_resources.extraction import ExtractionLimits, UnsupportedFormat, extract_document
from conftest import corpus
from tests.documents.hwp5 import Header, Paragraph, Picture, Table, TextBox, write_hwp
from tests.documents.hwpx import rewrite, write_hwpx, write_tracked_changes, write_with_memo

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def sources():
    laws = corpus("ko_laws", "laws.jsonl.gz")
    precedents = corpus("ko_court_precedents", "precedents.jsonl.gz", limit=40)
    long = min(laws, key=lambda doc: abs(len(doc["text"]) - 60_000))
    return [long["text"], *(doc["text"] for doc in precedents[2:4])]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("hwpx")


def read(path, limits=ExtractionLimits()):
    return extract_document(path, ".hwpx", limits)


def rejection(path, limits=ExtractionLimits()) -> str:
    with pytest.raises(UnsupportedFormat) as caught:
        read(path, limits)
    return str(caught.value)


def test_corpus_text_reads_back(sources, folder):
    for number, text in enumerate(sources):
        extraction = read(write_hwpx(folder / f"doc{number}.hwpx", [text.split("\n")]))
        assert Indel.normalized_similarity(text, extraction.text) >= 0.98, (number, len(text))
        assert (extraction.unit, extraction.read) == ("sections", 1)
        assert extraction.reader.startswith("onett hwpx reader 1 (lxml ")


@pytest.fixture(scope="module")
def blocks(sources):
    """A court decision in two sections, with tables, notes, a running header, a picture and a text box."""
    lines = [line for line in sources[1].split("\n") if line.strip()]
    half = len(lines) // 2
    first = [
        Header("대법원 판결 머리말"),
        *lines[:3],
        Paragraph(lines[3], footnotes=["민법 제103조 참조"], endnotes=["대법원 1996. 4. 26. 선고 판결"]),
        Table([["사건", "원고", "피고"], ["2019다12345", "소외 1", "주식회사 한빛"]]),
        Table([["상자 안의 안내문 첫째 줄"], ["상자 안의 안내문 둘째 줄"]]),
        TextBox("도형 안의 글상자 문구"),
        Picture(),
        *lines[4:half],
    ]
    return lines, [first, lines[half:]]


@pytest.fixture(scope="module")
def report(blocks, folder):
    lines, sections = blocks
    path = write_hwpx(folder / "report.hwpx", sections)
    return lines, path, read(path)


def test_sections_tables_and_notes(report):
    lines, path, extraction = report
    assert extraction.read == 2 and len(extraction.sections) == 2
    first = extraction.sections[0].text.split("\n")
    assert "사건 | 원고 | 피고" in first and "2019다12345 | 소외 1 | 주식회사 한빛" in first
    assert "상자 안의 안내문 첫째 줄" in first and "상자 안의 안내문 둘째 줄" in first
    assert first[-2:] == ["민법 제103조 참조", "대법원 1996. 4. 26. 선고 판결"]
    assert first.index(lines[3]) < first.index("사건 | 원고 | 피고") < first.index(lines[4])
    assert Indel.normalized_similarity("\n".join(lines[len(lines) // 2:]), extraction.sections[1].text) >= 0.98


def test_pictures_drawings_and_running_headers_are_left_out(report):
    _, path, extraction = report
    with zipfile.ZipFile(path) as package:
        section = package.read("Contents/section0.xml").decode()
    assert "도형 안의 글상자" in section and "대법원 판결 머리말" in section and "<hp:pic" in section
    assert "도형 안의 글상자" not in extraction.text and "머리말" not in extraction.text


def test_the_same_document_reads_the_same_as_hwp(blocks, report, folder):
    _, sections = blocks
    hwp = extract_document(write_hwp(folder / "report.hwp", sections), ".hwp")
    assert [section.text for section in hwp.sections] == [section.text for section in report[2].sections]


def test_tracked_deletions_are_left_out(folder):
    path = write_tracked_changes(folder / "tracked.hwpx", [
        ("원심판결을 파기하고, 사건을 서울고등법원에 환송한다.", "서울고등법원", "대전고등법원"),
        ("이 사건 상고를 모두 기각한다. 상고비용은 피고가 부담한다.", "모두 ", ""),
    ])
    assert read(path).text == ("원심판결을 파기하고, 사건을 대전고등법원에 환송한다.\n"
                               "이 사건 상고를 기각한다. 상고비용은 피고가 부담한다.")


def test_memos_are_left_out(folder):
    path = write_with_memo(folder / "memo.hwpx", "피고인은 무죄.", "검토 의견: 판례 확인 필요")
    assert read(path).text == "피고인은 무죄."


def test_hwp_under_the_hwpx_suffix_is_read(folder):
    path = write_hwp(folder / "binary.hwpx", [["한글 문서의 본문"]])
    extraction = read(path)
    assert extraction.text == "한글 문서의 본문" and "HWP 5" in extraction.provenance()


BOMB = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;">]><hs:sec xmlns:hs="urn:s" xmlns:hp="urn:p">'
        b'<hp:p><hp:run><hp:t>&lol3;</hp:t></hp:run></hp:p></hs:sec>')
ENCRYPTED_MANIFEST = (
    b'<?xml version="1.0" encoding="UTF-8"?><odf:manifest xmlns:odf="urn:oasis:names:tc:opendocument:xmlns:'
    b'manifest:1.0"><odf:file-entry odf:full-path="Contents/section0.xml" odf:media-type="application/xml">'
    b'<odf:encryption-data odf:checksum-type="SHA1" odf:checksum="AAAA"><odf:algorithm odf:algorithm-name='
    b'"AES"/></odf:encryption-data></odf:file-entry></odf:manifest>')


@pytest.mark.parametrize("case, reason", [
    ("not a zip", "corrupt or not an HWPX package: not a readable zip"),
    ("truncated zip", "corrupt or not an HWPX package: not a readable zip"),
    ("encrypted", "password-protected HWPX document"),
    ("no content.hpf", "not an HWPX package: the part 'Contents/content.hpf' is missing"),
    ("epub", "not an HWPX package: a zip of type 'application/epub+zip'"),
    ("section missing", "the part 'Contents/section0.xml' is missing"),
    ("xml bomb", "declares a DTD or entities (refused: possible XML bomb)"),
    ("broken xml", "the part 'Contents/section0.xml' is not well-formed XML"),
    ("no sections in spine", "lists no section parts"),
    ("only drawings", "no body text: the document holds only empty paragraphs, pictures or drawings"),
])
def test_unreadable_packages_are_refused(report, folder, case, reason):
    _, good, _ = report
    path = folder / f"{case}.hwpx"
    if case == "not a zip":
        path.write_text("법률 제1호 본문\n", encoding="utf-8")
    elif case == "truncated zip":
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif case == "encrypted":
        rewrite(good, path, {"META-INF/manifest.xml": ENCRYPTED_MANIFEST})
    elif case == "epub":
        with zipfile.ZipFile(path, "w") as package:
            package.writestr("mimetype", "application/epub+zip")
            package.writestr("OEBPS/content.opf", "<package/>")
    elif case == "no content.hpf":
        rewrite(good, path, {"Contents/content.hpf": None})
    elif case == "section missing":
        rewrite(good, path, {"Contents/section0.xml": None})
    elif case == "xml bomb":
        rewrite(good, path, {"Contents/section0.xml": BOMB})
    elif case == "broken xml":
        with zipfile.ZipFile(good) as package:
            section = package.read("Contents/section0.xml")
        rewrite(good, path, {"Contents/section0.xml": section[: len(section) // 2]})
    elif case == "no sections in spine":
        with zipfile.ZipFile(good) as package:
            hpf = package.read("Contents/content.hpf").decode()
        hpf = re.sub(r'<opf:itemref idref="section\d+"[^>]*>', "", hpf)
        rewrite(good, path, {"Contents/content.hpf": hpf.encode()})
    elif case == "only drawings":
        write_hwpx(path, [[Picture(), TextBox("도형 글")]])
    assert reason in rejection(path)


def test_a_zip_bomb_stops_at_the_limit(report, folder):
    _, good, _ = report
    flood = b'<hs:sec xmlns:hs="urn:s" xmlns:hp="urn:p"><hp:p><hp:run><hp:t>' + b" " * (40 << 20) + b"</hp:t>"
    path = rewrite(good, folder / "bomb.hwpx", {"Contents/section0.xml": flood})
    assert "possible zip bomb" in rejection(path)


def test_text_beyond_the_limit_is_refused(report):
    _, good, _ = report
    assert "more than 1,000 characters of text" in rejection(good, ExtractionLimits(max_text_chars=1_000))
