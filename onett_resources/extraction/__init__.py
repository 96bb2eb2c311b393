"""Documents as partners hold them (PDF, HWP, HWPX, DOCX, EPUB, HTML) read into clean text.

One module per format, each exposing `extract(path, limits) -> Extraction`; `extract_document` picks it by the
file's suffix. Readers run inside the extraction worker process (`worker.py`), under a time and memory limit, so a
hostile document costs at most that worker, never the partition reading it."""

from __future__ import annotations

import importlib
from pathlib import Path

from onett_resources.extraction.base import Extraction, ExtractionLimits, Section, UnsupportedFormat

READERS = {
    ".pdf": "pdf",
    ".hwp": "hwp",
    ".hwpx": "hwpx",
    ".docx": "docx",
    ".epub": "epub",
    ".html": "html",
    ".htm": "html",
}
DOCUMENT_SUFFIXES = tuple(READERS)
# Hancom Office saves both of its formats under either suffix in practice: the first bytes decide.
HANCOM = {b"\xd0\xcf\x11\xe0": (".hwp", "an HWP 5 document"), b"PK\x03\x04": (".hwpx", "an HWPX package")}

__all__ = ["DOCUMENT_SUFFIXES", "Extraction", "ExtractionLimits", "Section", "UnsupportedFormat", "extract_document"]


def extract_document(path: Path, suffix: str, limits: ExtractionLimits = ExtractionLimits()) -> Extraction:
    """The text of the document at `path`, read as its `suffix` says (for Hancom's formats, as its first bytes say);
    `UnsupportedFormat` says why not."""
    suffix, path = suffix.lower(), Path(path)
    note = ""
    if suffix in (".hwp", ".hwpx"):
        with open(path, "rb") as handle:
            head = handle.read(4)
        actual, kind = HANCOM.get(head, (suffix, ""))
        if actual != suffix:
            suffix, note = actual, f"{kind} under the {suffix} suffix"
    extraction = importlib.import_module(f"onett_resources.extraction.{READERS[suffix]}").extract(path, limits)
    if note:
        extraction.notes.append(note)
    return extraction
