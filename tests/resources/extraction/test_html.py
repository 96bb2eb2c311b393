"""The HTML reader on real pages: the main text stays, navigation and page furniture go, legacy Korean encodings
are read, and a page with nothing but navigation earns nothing."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from rapidfuzz.distance import Indel

from conftest import corpus
from onett_resources.extraction import ExtractionLimits, UnsupportedFormat, extract_document

HANGUL = re.compile("[가-힣]")
HELP_FURNITURE = ("LibreOffice 7.4 Help", "Help content debug info", "This page is:")


def read(folder, name: str, content: bytes | str):
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return extract_document(path, path.suffix, ExtractionLimits())


def test_help_pages_keep_their_korean_body_and_lose_the_navigation(tmp_path):
    """The Korean LibreOffice help (raw HTML with a logo bar, module menus and a debug footer on every page): the
    prose lines of each page come back, none of the furniture."""
    recalled = []
    for number, page in enumerate(corpus("ko_libreoffice_help_html", "help_pages.jsonl.gz", limit=120)):
        text = read(tmp_path, f"{number}.html", page["text"]).text
        assert not any(junk in text for junk in HELP_FURNITURE), (number, text[:200])
        flat = " ".join(text.split())  # where a line breaks is layout, not content
        prose = [" ".join(line.split()) for line in page["extracted_text"].split("\n")
                 if len(line.strip()) > 30 and len(HANGUL.findall(line)) > 10]
        if prose:
            recalled.append(sum(line in flat for line in prose) / len(prose))
    recalled.sort()
    assert len(recalled) > 50
    assert recalled[len(recalled) // 2] == 1.0 and recalled[len(recalled) // 10] >= 0.6


def test_web_pages_lose_their_menus_and_keep_their_articles(tmp_path):
    pages = corpus("web_boilerplate_samples", "warc_html_pages.jsonl.gz")
    extracted = {p["url"]: read(tmp_path, f"{i}.html", p["text"]).text for i, p in enumerate(pages)
                 if p["url"].startswith("https://maria-antoniak.github.io/20")}
    assert len(extracted) >= 4
    notes = extracted["https://maria-antoniak.github.io/2023/07/04/notes-on-mastodon.html"]
    assert notes.startswith("This is a list of things I think are important to understand if you")
    for url, text in extracted.items():
        naive = next(p["extracted_text"] for p in pages if p["url"] == url)
        first_paragraph = next(line for line in naive.split("\n") if len(line) > 80)
        assert " ".join(first_paragraph.split()) in " ".join(text.split()), url  # the article stayed
        lines = {line.strip() for line in text.split("\n")}
        assert not lines & {"Contact", "Resources", "Code", "Blog", "CV", "Publications"}, url  # the menu went


def test_an_euc_kr_page_is_read_by_its_meta_charset(tmp_path):
    law = corpus("ko_laws", "laws.jsonl.gz", limit=1)[0]["text"][:6000]
    paragraphs = "".join(f"<p>{line}</p>\n" for line in law.split("\n") if line.strip())
    page = (f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=euc-kr"><title>법령</title>'
            f"</head><body><nav><a href='/'>처음으로</a> <a href='/laws'>법령 목록</a></nav><article>{paragraphs}"
            "</article></body></html>")
    extraction = read(tmp_path, "법령.htm", page.encode("cp949", errors="ignore"))
    assert extraction.notes == ["read as cp949"]
    assert Indel.normalized_similarity("\n".join(l for l in law.split("\n") if l.strip()), extraction.text) >= 0.98
    assert "법령 목록" not in extraction.text


def test_libreoffice_html_of_korean_text_reads_back(tmp_path):
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice (soffice) not installed")
    laws = [d["text"] for d in corpus("ko_laws", "laws.jsonl.gz", limit=8) if 3000 < len(d["text"]) < 60000][:3]
    for number, law in enumerate(laws):
        (tmp_path / f"law{number}.txt").write_text(law)
    subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path}/profile", "--headless", "--convert-to",
                    "html", "--outdir", str(tmp_path), *(str(tmp_path / f"law{n}.txt") for n in range(len(laws)))],
                   check=True, capture_output=True, timeout=180)
    for number, law in enumerate(laws):
        text = extract_document(tmp_path / f"law{number}.html", ".html").text
        source = "\n".join(line.strip() for line in law.split("\n") if line.strip())
        assert Indel.normalized_similarity(source, text) >= 0.98, number


def test_a_page_with_only_navigation_is_refused(tmp_path):
    menu = "<html><body><nav><ul>" + "".join(f"<li><a href='/{i}'>메뉴 {i}</a></li>" for i in range(30)) + \
           "</ul></nav><footer>© 2026 출판사</footer></body></html>"
    with pytest.raises(UnsupportedFormat, match="^no main text found in the page$"):
        read(tmp_path, "menu.html", menu)


def test_a_page_beyond_the_size_limit_is_refused_unread(tmp_path):
    path = tmp_path / "huge.html"
    with open(path, "wb") as handle:
        handle.truncate((64 << 20) + 1)
    with pytest.raises(UnsupportedFormat, match="pages above 64 MB are not read"):
        extract_document(path, ".html")
