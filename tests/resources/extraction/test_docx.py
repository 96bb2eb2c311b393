"""The DOCX reader on documents LibreOffice wrote from real text (running header, page numbers, a table, footnotes)
and on hand-built packages for what LibreOffice does not write: tracked changes, comments, field codes, chapters.
Every document that cannot be read is refused with its reason."""

from __future__ import annotations

import io
import zipfile

from msoffcrypto.format.ooxml import OOXMLFile
import pytest
from rapidfuzz.distance import Indel

from conftest import corpus
from onett_resources.extraction import ExtractionLimits, UnsupportedFormat, extract_document
from tests.documents.libreoffice import Layout, SourceDoc, render

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    laws = [d["text"] for d in corpus("ko_laws", "laws.jsonl.gz", limit=10) if 2000 < len(d["text"]) < 80000][:3]
    english = corpus("en_gutenberg_editions", "editions.jsonl.gz", limit=1)[0]["text"][:40000]
    layout = Layout(header="한국법제연구원 법령집", footnotes=["이 조는 2020년에 개정되었다."],
                    table=[["구분", "내용"], ["제1조", "목적"]])
    docs = [SourceDoc(f"law{n}", [line.strip() for line in text.split("\n") if line.strip()], layout)
            for n, text in enumerate(laws)]
    docs.append(SourceDoc("book", english_paragraphs(english),
                          Layout(header="Project Gutenberg Edition", language="en")))
    return render(docs, ["docx"], tmp_path_factory.mktemp("docx"))


def english_paragraphs(text: str) -> list[str]:
    """A Gutenberg text's paragraphs as its author wrote them: its hard line wraps undone."""
    return [" ".join(p.split()) for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]


def read(path, limits=ExtractionLimits()):
    return extract_document(path, ".docx", limits)


def test_libreoffice_documents_read_back_without_their_page_furniture(rendered):
    for document in rendered:
        extraction = read(document.path)
        assert Indel.normalized_similarity(document.body, extraction.text) >= 0.98, document.path.name
        assert not any(junk in extraction.text for junk in document.junk)
        assert "- 1 -" not in extraction.text
    law = read(rendered[0].path)
    assert "구분 | 내용\n제1조 | 목적" in law.text and law.text.endswith("이 조는 2020년에 개정되었다.")
    assert (law.reader, law.unit, law.notes) == ("onett docx reader 1", "sections",
                                                ["1 footnotes and endnotes after the body"])


def package(body: str, **parts: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as docx:
        docx.writestr("[Content_Types].xml", "<Types/>")
        docx.writestr("word/document.xml", f"<w:document {W}><w:body>{body}</w:body></w:document>")
        for name, xml in parts.items():
            docx.writestr(f"word/{name}.xml", xml)
    return buffer.getvalue()


def paragraph(*runs: str, style: str = "") -> str:
    properties = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f"<w:p>{properties}{''.join(runs)}</w:p>"


def run(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{text}</w:t></w:r>'


def test_tracked_changes_comments_and_field_codes_read_as_the_text_now_reads(tmp_path):
    body = (paragraph(run("계약은 "), f"<w:del><w:r><w:delText>2025년</w:delText></w:r></w:del>",
                      f"<w:ins>{run('2026년')}</w:ins>", run(" 1월에 시작한다."))
            + paragraph(run("옮겨진 문장: "), f"<w:moveFrom>{run('여기 있던 말')}</w:moveFrom>",
                        '<w:commentReference w:id="0"/>', run("끝."))
            + paragraph('<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> PAGE </w:instrText></w:r>',
                        '<w:r><w:fldChar w:fldCharType="separate"/></w:r>', run("현재 쪽"),
                        '<w:r><w:fldChar w:fldCharType="end"/></w:r>', "<w:r><w:tab/></w:r>", run("다음")))
    path = tmp_path / "변경.docx"
    path.write_bytes(package(body, comments=f'<w:comments {W}><w:comment w:id="0"><w:p>{run("검토 의견")}</w:p>'
                                             "</w:comment></w:comments>",
                             header1=f"<w:hdr {W}><w:p>{run('머리말 문구')}</w:p></w:hdr>"))
    assert read(path).text == "계약은 2026년 1월에 시작한다.\n옮겨진 문장: 끝.\n현재 쪽\t다음"


def test_content_controls_and_text_boxes_are_read_once(tmp_path):
    mc = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
    box = (f"<w:r><mc:AlternateContent {mc}><mc:Choice Requires=\"wps\"><w:drawing><w:txbxContent>"
           f"{paragraph(run('상자 속 글'))}</w:txbxContent></w:drawing></mc:Choice><mc:Fallback><w:pict>"
           f"<w:txbxContent>{paragraph(run('상자 속 글'))}</w:txbxContent></w:pict></mc:Fallback>"
           "</mc:AlternateContent></w:r>")
    body = (f"<w:sdt><w:sdtContent>{paragraph(run('목차 제1장'))}</w:sdtContent></w:sdt>"
            + paragraph(run("본문 앞"), box, run(" 본문 뒤")))
    path = tmp_path / "상자.docx"
    path.write_bytes(package(body))
    assert read(path).text == "목차 제1장\n본문 앞\n상자 속 글 본문 뒤"


def test_heading_1_paragraphs_start_sections(tmp_path):
    styles = (f'<w:styles {W}><w:style w:styleId="1"><w:name w:val="heading 1"/></w:style>'
              f'<w:style w:styleId="2"><w:name w:val="heading 2"/></w:style></w:styles>')
    body = (paragraph(run("머리말")) + paragraph(run("제1장 총칙"), style="1") + paragraph(run("첫 장의 본문")) +
            paragraph(run("제1절"), style="2") + paragraph(run("절의 본문")) +
            paragraph(run("제2장 보칙"), style="1") + paragraph(run("둘째 장의 본문")))
    path = tmp_path / "책.docx"
    path.write_bytes(package(body, styles=styles))
    extraction = read(path)
    assert [(s.title, s.text) for s in extraction.sections] == [
        ("", "머리말"), ("제1장 총칙", "제1장 총칙\n첫 장의 본문\n제1절\n절의 본문"), ("제2장 보칙", "제2장 보칙\n둘째 장의 본문")]
    assert extraction.read == 3


def test_documents_that_cannot_be_read_say_why(rendered, tmp_path):
    secret = tmp_path / "잠김.docx"
    with open(rendered[0].path, "rb") as plain, open(secret, "wb") as sealed:
        office = OOXMLFile(plain)
        office.encrypt("password", sealed)
    with pytest.raises(UnsupportedFormat, match="^password-protected DOCX"):
        read(secret)
    truncated = tmp_path / "잘림.docx"
    truncated.write_bytes(rendered[0].path.read_bytes()[:3000])
    with pytest.raises(UnsupportedFormat, match=r"^corrupt or truncated DOCX"):
        read(truncated)
    not_word = tmp_path / "엑셀.docx"
    with zipfile.ZipFile(not_word, "w") as other:
        other.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(UnsupportedFormat, match=r"^not a Word document \(no word/document.xml\)$"):
        read(not_word)
    broken = tmp_path / "깨짐.docx"
    broken.write_bytes(package(paragraph(run("열린 태그")) + "<w:p><w:r>"))
    with pytest.raises(UnsupportedFormat, match="^corrupt DOCX: word/document.xml is not well-formed XML"):
        read(broken)
    entities = tmp_path / "개체.docx"
    with zipfile.ZipFile(entities, "w") as docx:
        docx.writestr("word/document.xml", '<!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
                      f"<w:document {W}><w:body>{paragraph(run('가&b;나'))}</w:body></w:document>")
    with pytest.raises(UnsupportedFormat, match="word/document.xml' declares a DTD or entities"):
        read(entities)
    bomb = tmp_path / "폭탄.docx"
    bomb.write_bytes(package(paragraph(run("가" * 100)) * 200_000))
    with pytest.raises(UnsupportedFormat, match="possible zip bomb"):
        read(bomb, ExtractionLimits(max_compression_ratio=20))
    with pytest.raises(UnsupportedFormat, match="expands to 67 MB, beyond the limit of 32 MB"):
        read(bomb, ExtractionLimits(max_member_bytes=32 << 20))
