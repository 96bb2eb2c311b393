"""Laid-out lines back into written text, format-independent: furniture found by repetition and page-number shape,
paragraphs by where lines stop, words hyphenated at line ends made whole."""

from __future__ import annotations

import re

import pytest

from conftest import corpus
from onett_resources.extraction.text_layout import PAGE_NUMBER, Line, furniture, join, paragraphs

HEIGHT = 842.0


def line(text, page, top, left=57.0, right=538.0, column=0) -> Line:
    return Line(text, left, right, top, top + 11, page, HEIGHT, column)


@pytest.mark.parametrize("text", ["3", "- 3 -", "— 12 —", "3 / 120", "Page 3", "p. 14", "iv", "(7)", "12쪽", "5 페이지"])
def test_page_numbers_are_recognised(text):
    assert PAGE_NUMBER.match(text)


@pytest.mark.parametrize("text", ["제1조(목적)", "2026년 1월", "Chapter 3", "1. 총칙", "IV. Results and discussion"])
def test_numbered_prose_is_not_a_page_number(text):
    assert not PAGE_NUMBER.match(text)


def test_running_headers_and_page_numbers_go_body_lines_stay():
    sentences = [d["text"].split("\n")[0][:80] for d in corpus("ko_petitions", "petitions.jsonl.gz", limit=12)]
    pages = [[line("한국법제연구원 법령집", n, 40), line(sentences[n], n, 90), line(f"- {n + 1} -", n, 800)]
             for n in range(6)]
    pages[2].append(line(sentences[11], 2, 60))  # body text near the top of one page: not repeated, stays
    removed = furniture(pages)
    kept = [l.text for lines in pages for l in lines if id(l) not in removed]
    assert kept == [*sentences[:2], sentences[2], sentences[11], *sentences[3:6]]


def test_lines_become_paragraphs_where_they_stop_short():
    law = next(d["text"] for d in corpus("ko_laws", "laws.jsonl.gz", limit=20) if len(d["text"]) > 3000)
    first, second = [p for p in law.split("\n") if len(p) > 120][:2]
    lines, top = [], 60.0
    for paragraph in (first, second):
        words = paragraph.split(" ")
        chunk = max(1, len(words) // 3)
        for start in range(0, len(words), chunk):
            piece = " ".join(words[start:start + chunk])
            last = start + chunk >= len(words)
            lines.append(line(piece, 0, top, right=300.0 if last else 538.0))
            top += 15
    assert paragraphs(lines) == [first, second]


def test_hyphenation_is_undone_and_authors_compounds_kept():
    assert join("a quiet ser\ufffe", "vice") == "a quiet ser\ufffevice"
    lines = [line("the well-known wood\ufffe", 0, 60), line("cut of the Night\ufffe", 0, 75),
             line("Cellar, a quiet ser\ufffe", 0, 90), line("vice and a well-\ufffe", 0, 105),
             line("known print.", 0, 120, right=200)]
    assert paragraphs(lines) == ["the well-known woodcut of the Night-Cellar, a quiet service and a well-known print."]


def test_numbers_and_chinese_characters_wrapped_mid_way_close_up():
    assert join("<개정 2014.12.", "3>") == "<개정 2014.12.3>"
    assert join("수리(受", "理) 여부") == "수리(受理) 여부"
    assert join("다음 각 호의", "사항") == "다음 각 호의 사항"


def test_korean_wrapped_where_it_is_written_without_a_space_closes_up():
    """Word processors wrap Korean between a number and its counter, after "제", inside brackets and quotes: every
    such wrap point of real statutes joins back to the statute's own text."""
    law = "\n".join(d["text"] for d in corpus("ko_laws", "laws.jsonl.gz", limit=20))
    wraps = [m.start() + 1 for m in re.finditer(r'\d[가-힣]|(?<![가-힣])제\d|[<(「"][가-힣]|[가-힣][)>」]', law)]
    assert len(wraps) > 500
    for at in wraps:
        start, end = law.rfind(" ", 0, at) + 1, law.find(" ", at)
        word = law[start:end if end > 0 else None].split("\n")[0]
        if at - start >= len(word):
            continue
        assert join(word[:at - start], word[at - start:]) == word, word
