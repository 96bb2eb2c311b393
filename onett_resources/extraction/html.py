"""HTML pages (a site's export, a saved article) read into their main text.

trafilatura finds the main content of a web page and leaves out navigation, menus, footers and other boilerplate,
the way web-scale pipelines clean crawled pages. A document saved as HTML by a word processor (its generator meta
names LibreOffice, Word or Hancom) has no boilerplate, and trafilatura's heuristics would drop some of its
paragraphs (short numbered items, repeated clauses): it is read whole, without its running header and footer. The bytes are decoded first, here: a BOM, else the page's own `<meta
charset>` (Korean pages still come in EUC-KR, read as CP949, its superset), else UTF-8, else a guess by
charset_normalizer, noted. A page with no main text (navigation only) is refused, never paid for its menus."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from onett_resources.extraction.base import Extraction, ExtractionLimits, Section, UnsupportedFormat, library
from onett_resources.extraction.markup import paragraphs

MAX_PAGE_BYTES = 64 << 20
# Word processors' HTML exports name themselves: they hold a document, not a web page with menus around an article.
_EXPORTER = re.compile(r"""<meta\s+name=["']generator["']\s+content=["'][^"']*?(LibreOffice|OpenOffice|Microsoft Word|"""
                       r"""Hancom|Hwp|HWP)""", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_KOREAN = {"euc-kr", "euckr", "ks_c_5601-1987", "ks_c_5601", "ksc5601", "cp949", "ms949", "uhc", "x-windows-949"}
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Page furniture trafilatura keeps on some sites (a help system's logo bar, a short site header), the running header
# and footer of a word processor's export (LibreOffice writes them as <div title="header">), and footnote markers
# (a superscript link to the note): removed before it looks for the main content. Only short headers and footers:
# some sites put the article itself in a <header>.
PAGE_FURNITURE = ["//nav", "//header[string-length(normalize-space(.)) < 300]",
                  "//footer[string-length(normalize-space(.)) < 1000]", "//div[@title='header' or @title='footer']",
                  "//sup[a[starts-with(@href, '#')] and string-length(normalize-space(.)) <= 4]",
                  "//a[starts-with(@href, '#') and contains(@class, 'footnote') and string-length(normalize-space(.)) <= 4]"]


def extract(path: Path, limits: ExtractionLimits) -> Extraction:
    size = path.stat().st_size
    if size > MAX_PAGE_BYTES:
        raise UnsupportedFormat(f"an HTML page of {size >> 20} MB: pages above {MAX_PAGE_BYTES >> 20} MB are not read")
    page, encoding = decode(path.read_bytes())
    notes = [] if encoding in ("utf-8", "utf-8-sig") else [f"read as {encoding}"]
    exporter = _EXPORTER.search(page[:8192])
    if exporter:  # a document saved as HTML: all of it is the document
        reader = f"onett html reader 1 (a document exported by {exporter.group(1)})"
        text = "\n".join(paragraphs(page, PAGE_FURNITURE)[1])
    else:
        import trafilatura  # noqa: PLC0415 - loaded in the reading process only

        reader = library("trafilatura")
        text = trafilatura.extract(page, include_comments=False, include_tables=True, include_images=False,
                                   with_metadata=False, deduplicate=False, favor_recall=True, fast=True,
                                   output_format="txt", prune_xpath=PAGE_FURNITURE) or ""
    if not text.strip():
        raise UnsupportedFormat("no main text found in the page")
    if len(text) > limits.max_text_chars:
        raise UnsupportedFormat(f"more than {limits.max_text_chars >> 20} M characters of text")
    return Extraction([Section(text.strip())], reader, "documents", 1, notes=notes)


def decode(data: bytes) -> tuple[str, str]:
    """The page as text and the encoding it was read in."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace"), encoding
    declared = _META_CHARSET.search(data[:4096])
    if declared:
        name = declared.group(1).decode("ascii").lower()
        encoding = "cp949" if name in _KOREAN else name
        try:
            return data.decode(encoding), encoding
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes  # noqa: PLC0415

    best = from_bytes(data).best()
    if best is None:
        raise UnsupportedFormat("not readable as text in any known encoding")
    return str(best), best.encoding
