"""Laid-out lines (from a PDF page) back into the text that was written: page furniture removed, lines joined into
paragraphs. Independent of the file format: a reader hands over each page's lines with their boxes.

- **Running headers and footers**: a line at the top or bottom of a page whose text (digits aside) recurs at about
  the same height on at least half the pages (two at least), and page numbers there ("3", "- 3 -", "3 / 120",
  "Page 3", "iv"), even on a single page.
- **Paragraphs**: a line that stops short of its column's right edge ends a paragraph, and so does a gap above the
  next line clearly wider than the usual line spacing; justified lines in between belong together.
- **Line joins**: words broken by hyphenation (PDFium marks a hyphen at a line end with U+FFFE) are joined
  whole (an author's own compound keeps its hyphen where the document shows it is one), and so are numbers
  ("2014.12." + "3"), runs of Chinese characters, and Korean wrapped where it is written without a space (a number
  and its counter "31" + "일", "제" + "16호", inside brackets and quotes); otherwise lines are joined with a space,
  which is where both Korean (어절) and English text wrap."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass

SOFT_HYPHEN_BREAK = "\ufffe"
PAGE_NUMBER = re.compile(r"^[\s\-–—·(\[]*(?:(?:page|p\.|쪽)\s*)?(?:\d{1,5}|[ivxlcdm]{1,7})"
                         r"(?:\s*(?:/|of|-)\s*\d{1,5})?\s*(?:쪽|페이지)?[\s\-–—·)\]]*$", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_WRAPPED_NUMBER = re.compile(r"\d[.,]?$")
# Where Korean is written without a space but a line may still wrap (as word processors' line breaking allows):
# a number and its counter ("31" / "일", "2" / "천만원"), "제" and its number, inside brackets and quotes.
_CLOSED_UP_KOREAN = re.compile(r'(?:\d|(?:^|[^가-힣])제|[<(\[「『"“‘])\n[가-힣\d]|\S\n[)>\]」』,.;:”’]')
_BROKEN_WORD = re.compile(r"(\w+)\ufffe(\w+)")
_WORD = re.compile(r"\w+(?:-\w+)*")
BAND = 0.12  # the top and bottom share of the page height where running headers and footers live


@dataclass
class Line:
    text: str
    left: float
    right: float
    top: float  # distance from the page's top edge (grows downwards)
    bottom: float
    page: int
    page_height: float
    column: int = 0

    @property
    def char_width(self) -> float:
        return (self.right - self.left) / max(len(self.text.strip()), 1)


def furniture(pages: list[list[Line]]) -> set[int]:
    """ids of the lines that are running headers, footers or page numbers."""
    found: set[int] = set()
    candidates = [line for lines in pages for line in lines if _in_band(line)]
    pages_with = Counter()
    for signature, page in {(_signature(line), line.page) for line in candidates}:
        pages_with[signature] += 1
    repeated = {s for s, n in pages_with.items() if n >= max(2, len(pages) / 2)}
    for line in candidates:
        if _signature(line) in repeated or PAGE_NUMBER.match(line.text.strip()):
            found.add(id(line))
    return found


def paragraphs(lines: list[Line]) -> list[str]:
    """Lines in reading order (furniture removed) joined into paragraphs."""
    if not lines:
        return []
    rights = _column_rights(lines)
    gaps = [b.top - a.bottom for a, b in zip(lines, lines[1:]) if _same_column(a, b) and b.top > a.bottom - 1]
    usual_gap = statistics.median(gaps) if gaps else 0.0
    heights = [line.bottom - line.top for line in lines]
    usual_height = statistics.median(heights)
    found, current = [], lines[0].text.strip()
    for before, line in zip(lines, lines[1:]):
        text = line.text.strip()
        if not text:
            continue
        ends = (before.right < rights[(before.page, before.column)] - 2.5 * before.char_width
                or (_same_column(before, line) and line.top - before.bottom > usual_gap + 0.35 * usual_height))
        if ends:
            found.append(current)
            current = text
        else:
            current = join(current, text)
    found.append(current)
    return _mend_hyphenation([p for p in found if p.strip()])


def _mend_hyphenation(found: list[str]) -> list[str]:
    """Words hyphenated at a line end made whole. PDFium marks every hyphen at a line end alike, the hyphenation
    program's and the author's own ("dram-drinker"): the hyphen stays where the rest of the document writes the word
    with it, or where the second part is capitalized ("Night-Cellar"); otherwise it was hyphenation."""
    text = "\n".join(found)
    if SOFT_HYPHEN_BREAK not in text:
        return found
    words = Counter(_WORD.findall(text))

    def mend(match: re.Match) -> str:
        first, second = match.group(1), match.group(2)
        if second[:1].isupper() or words[f"{first}-{second}"] > words[first + second]:
            return f"{first}-{second}"
        return first + second

    return [_BROKEN_WORD.sub(mend, p).replace(SOFT_HYPHEN_BREAK, "") for p in found]


def join(first: str, second: str) -> str:
    """Two consecutive lines of one paragraph as one: a word hyphenated across them made whole; a number, a run of
    Chinese characters or Korean written without a space (see `_CLOSED_UP_KOREAN`) wrapped mid-way closed up;
    otherwise a space, where both Korean (어절) and English wrap."""
    if first.endswith(SOFT_HYPHEN_BREAK):
        return first + second  # the mark stays until the whole document is known (_mend_hyphenation)
    if _WRAPPED_NUMBER.search(first) and second[:1].isdigit() or _is_han(first[-1:]) and _is_han(second[:1]):
        return first + second
    if _CLOSED_UP_KOREAN.search(first[-2:] + "\n" + second[:1]):
        return first + second
    return first + " " + second


def _is_han(char: str) -> bool:
    return bool(char) and "\u4e00" <= char <= "\u9fff"


def _in_band(line: Line) -> bool:
    return line.top < BAND * line.page_height or line.bottom > (1 - BAND) * line.page_height


def _signature(line: Line) -> tuple[str, int]:
    """The line's text with its numbers blanked, and its height on the page in coarse steps: a running header
    keeps both from page to page while its page number changes."""
    return _DIGITS.sub("#", " ".join(line.text.split())), round(line.top / line.page_height * 50)


def _column_rights(lines: list[Line]) -> dict[tuple[int, int], float]:
    """(page, column) -> where its full lines end: the 90th percentile of their right edges."""
    by_column: dict[tuple[int, int], list[float]] = {}
    for line in lines:
        by_column.setdefault((line.page, line.column), []).append(line.right)
    return {key: sorted(rights)[int(0.9 * (len(rights) - 1))] for key, rights in by_column.items()}


def _same_column(a: Line, b: Line) -> bool:
    return a.page == b.page and a.column == b.column
