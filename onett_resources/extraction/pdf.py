"""PDF documents read into the text their authors wrote, with PDFium (pypdfium2).

PDFium gives each page's text layer in content order (how publishers and word processors write it: a two-column
page column by column) with a box for every character; `text_layout` then removes running headers, footers and page
numbers and rebuilds paragraphs from the lines. A page with images but no text is a scan: it is skipped and
counted ("needs OCR"), and a PDF made only of such pages is refused rather than paid as empty. Pages are opened,
read and closed one at a time, so a PDF of any length is read in bounded memory."""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from onett_resources.extraction.base import Extraction, ExtractionLimits, Section, UnsupportedFormat, library
from onett_resources.extraction.text_layout import Line, furniture, paragraphs

NEEDS_OCR = "no text layer: needs OCR"
# What PDFium reports but the author did not write (a guessed space, a footnote mark) is marked with a Unicode
# noncharacter, never in a document's text, so positions stay aligned with PDFium's; removed at the end.
GUESSED_SPACE = "\ufdd2"


def extract(path: Path, limits: ExtractionLimits) -> Extraction:
    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise UnsupportedFormat("password-protected PDF: remove the password and upload it again") from None
        raise UnsupportedFormat(f"corrupt or truncated PDF ({exc})") from None
    try:
        return _read(pdf, limits)
    finally:
        pdf.close()


def _read(pdf: pdfium.PdfDocument, limits: ExtractionLimits) -> Extraction:
    count = len(pdf)
    if count > limits.max_pages:
        raise UnsupportedFormat(f"{count:,} pages, more than the {limits.max_pages:,} a document may have")
    if count == 0:
        raise UnsupportedFormat("corrupt or truncated PDF (no pages)")
    pages, scans, characters = [], 0, 0
    for number in range(count):
        lines, scanned = _page_lines(pdf, number)
        scans += scanned
        characters += sum(len(line.text) for line in lines)
        if characters > limits.max_text_chars:
            raise UnsupportedFormat(f"more than {limits.max_text_chars >> 20} M characters of text")
        pages.append(lines)
    if scans and not any(pages):
        raise UnsupportedFormat(f"no text layer on any of its {count} pages: needs OCR")
    removed = furniture(pages)
    body = [line for lines in pages for line in lines if id(line) not in removed]
    removed_chars = sum(len(line.text.strip()) for lines in pages for line in lines if id(line) in removed)
    text = "\n".join(paragraphs(body)).replace(GUESSED_SPACE, "")
    return Extraction([Section(text)], library("pypdfium2"), "pages", count - scans, scans,
                      NEEDS_OCR if scans else "", removed_chars)


def _page_lines(pdf: pdfium.PdfDocument, number: int) -> tuple[list[Line], int]:
    """The page's lines in content order, and 1 if it is a scan (images, no text)."""
    page = pdf[number]
    try:
        width, height = page.get_size()
        textpage = page.get_textpage()
        try:
            text = _without_note_marks(textpage, _without_generated_spaces(textpage, textpage.get_text_range()))
            lines = _lines(textpage, text, number, width, height)
        finally:
            textpage.close()
        if lines:
            return lines, 0
        images = any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2))
        return [], int(images)
    finally:
        page.close()


def _without_generated_spaces(textpage, text: str) -> str:
    """PDFium adds a space wherever glyphs stand apart. Between Hangul and a digit or Latin letter set in another
    font ("제 2 조", "30 실") that guess is wrong when the glyphs nearly touch: such spaces, narrower than about half
    a character, are dropped (marked with a placeholder, so positions stay aligned with PDFium's indices). Real
    spaces, and the wide gaps of justified lines, stay."""
    chars = list(text)
    for index, char in enumerate(text):
        if char != " " or not 0 < index < len(text) - 1:
            continue
        before, after = text[index - 1], text[index + 1]
        if before.isspace() or after.isspace() or _is_hangul(before) == _is_hangul(after):
            continue
        if pdfium_c.FPDFText_IsGenerated(textpage.raw, index) != 1:
            continue
        _, bottom, right, top = textpage.get_charbox(index - 1)
        left = textpage.get_charbox(index + 1)[0]
        if left - right < 0.55 * max(top - bottom, 1.0):
            chars[index] = GUESSED_SPACE
    return "".join(chars)


def _without_note_marks(textpage, text: str) -> str:
    """Footnote marks (superscript digits, set at well under the size of the text around them) are not prose."""
    digits = [index for index, char in enumerate(text) if char.isdigit()]
    if not digits:
        return text
    sizes = [pdfium_c.FPDFText_GetFontSize(textpage.raw, index) for index in range(0, len(text), 7)]
    usual = sorted(sizes)[len(sizes) // 2] if sizes else 0.0
    chars = list(text)
    for index in digits:
        if usual and pdfium_c.FPDFText_GetFontSize(textpage.raw, index) < 0.7 * usual:
            chars[index] = GUESSED_SPACE
    return "".join(chars)


def _is_hangul(char: str) -> bool:
    return "\uac00" <= char <= "\ud7a3" or "\u3130" <= char <= "\u318f"


def _lines(textpage, text: str, number: int, width: float, height: float) -> list[Line]:
    lines, start = [], 0
    for raw in text.split("\r\n"):
        end = start + len(raw)
        first = start + len(raw) - len(raw.lstrip())
        last = start + len(raw.rstrip()) - 1
        start = end + 2
        if last < first:
            continue
        left, bottom_a, _, top_a = textpage.get_charbox(first, loose=True)
        _, bottom_b, right, top_b = textpage.get_charbox(last, loose=True)
        line = Line(raw, left, max(right, left), height - max(top_a, top_b), height - min(bottom_a, bottom_b),
                    number, height, column=int(left > width * 0.45))
        lines.append(line)
    return lines
