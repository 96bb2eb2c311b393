"""XHTML and HTML fragments (an EPUB chapter) turned into paragraphs of text, with lxml.

Block elements (paragraphs, headings, list items, table rows, ...) become paragraphs; whitespace inside a block is
layout and collapses to one space; `<br>` is a line break; table rows become one line, cells joined by " | ".
Scripts, styles and navigation are not text."""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

BLOCKS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "blockquote", "pre", "section",
          "article", "aside", "header", "footer", "figcaption", "caption", "table", "ul", "ol", "dl", "hr", "address",
          "body"}
NOT_TEXT = {"script", "style", "nav", "head", "title", "template", "svg", "math", "noscript"}
HEADINGS = ("h1", "h2", "h3")
_BLOCK, _BREAK = "\ufdd0", "\ufdd1"  # Unicode noncharacters: never in a document's text
_SPACE = re.compile(r"\s+")
_XML_DECLARATION = re.compile(r"^\ufeff?\s*<\?xml[^>]*\?>")
_PARSER = lxml.html.HTMLParser(no_network=True, remove_comments=True, remove_pis=True, huge_tree=False)


def paragraphs(document: str, furniture: list[str] = ()) -> tuple[str, list[str]]:
    """(title, paragraphs) of one (X)HTML document, already decoded: the title is its first heading ("" if none).
    Elements matching the `furniture` XPaths are left out (their tail text stays)."""
    try:
        root = lxml.html.document_fromstring(_XML_DECLARATION.sub("", document, count=1), parser=_PARSER)
    except (etree.ParserError, ValueError):
        return "", []
    for path in furniture:
        for element in root.xpath(path):
            if element.getparent() is not None:
                element.drop_tree()
    for element in list(root.iter(etree.Element)):
        if _name(element) in NOT_TEXT and element.getparent() is not None:
            element.drop_tree()
    title = next((_flat(h.text_content()) for h in root.iter(etree.Element) if _name(h) in HEADINGS), "")
    for row in [e for e in root.iter(etree.Element) if _name(e) == "tr"]:
        cells = [_flat(cell.text_content()) for cell in row if _name(cell) in ("td", "th")]
        replacement = etree.Element("p")
        replacement.text = " | ".join(cell for cell in cells if cell)
        replacement.tail = row.tail
        row.getparent().replace(row, replacement)
    for pre in [e for e in root.iter(etree.Element) if _name(e) == "pre"]:  # its line breaks are the text's
        for inner in pre.iter(etree.Element):
            inner.text = inner.text and inner.text.replace("\n", _BREAK)
            if inner is not pre:
                inner.tail = inner.tail and inner.tail.replace("\n", _BREAK)
    for element in root.iter(etree.Element):
        name = _name(element)
        if name == "br":
            element.tail = _BREAK + (element.tail or "")
        elif name in BLOCKS or name == "p":
            element.text = _BLOCK + (element.text or "")
            element.tail = _BLOCK + (element.tail or "")
    body = root.find(".//body")
    text = (body if body is not None else root).text_content()
    found = []
    for block in _flat(text).split(_BLOCK):
        lines = [line.strip() for line in block.split(_BREAK)]
        paragraph = "\n".join(line for line in lines if line)
        if paragraph:
            found.append(paragraph)
    return title, found


def _flat(text: str) -> str:
    """Whitespace runs (source line breaks included) collapsed to one space; the block and break marks kept."""
    return _SPACE.sub(lambda m: " " if not set(m.group()) & {_BLOCK, _BREAK} else "".join(
        c for c in m.group() if c in (_BLOCK, _BREAK)), text).strip(" ")


def _name(element) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""
