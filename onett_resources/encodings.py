"""Which text encoding a file is in, and what is not text at all.

Korean files come in UTF-8 (with or without BOM), UTF-16 with BOM (Windows "Unicode" text) and the legacy
CP949 / EUC-KR (CP949 is a superset of EUC-KR, so one decoder reads both). Anything else, or binary content
such as images, PDFs or executables, is rejected with a specific reason instead of being read as garbage.
"""

from __future__ import annotations

import codecs


class UnsupportedFormat(ValueError):
    """A whole file cannot be read as text: binary content, an unknown encoding, a zip bomb. The message says why."""

_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),  # before UTF-16: they share a prefix
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
]

_MAGIC = [
    (b"%PDF", "a PDF document"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"), (b"PK\x03\x04", "a zip archive or Office document (DOCX/XLSX/HWPX)"),
    (b"\x7fELF", "an executable"), (b"MZ", "a Windows executable"), (b"\xd0\xcf\x11\xe0", "an old Office document (DOC/HWP)"),
    (b"\x1f\x8b", "gzip-compressed data"), (b"Rar!", "a RAR archive"), (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"PAR1", "a Parquet file"), (b"ID3", "an MP3 file"), (b"RIFF", "a media file"),
]


# Documents onett reads by their own suffix (onett_resources.extraction), when they arrive under a text one.
_DOCUMENTS = [(b"%PDF", ".pdf"), (b"PK\x03\x04", ".docx, .hwpx or .epub"), (b"\xd0\xcf\x11\xe0", ".hwp")]


def _binary_kind(head: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    sample = head[:8192]
    if b"\x00" in sample:
        return "binary data"
    controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
    if sample and controls / len(sample) > 0.05:
        return "binary data"
    return None


def _decodes(head: bytes, encoding: str) -> bool:
    """True if `head` decodes, allowing a multi-byte character cut at the end of the sample."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        decoder.decode(head, final=False)
        return True
    except UnicodeDecodeError:
        return False


def sniff_encoding(head: bytes, name: str) -> str:
    """The encoding of a file from its first bytes; raises UnsupportedFormat for binary or unknown content."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    kind = _binary_kind(head)
    if kind:
        hint = next((f"upload it as {suffix} to have its text read" for magic, suffix in _DOCUMENTS
                     if head.startswith(magic)), "convert it to .txt, .md, .jsonl or .csv")
        raise UnsupportedFormat(f"{name}: {kind}, not text ({hint})")
    if _decodes(head, "utf-8"):
        return "utf-8"
    if _decodes(head, "cp949"):
        return "cp949"
    # A few broken lines must not decide for the whole file: vote line by line.
    lines = head.split(b"\n")[:-1] or [head]
    votes = {enc: sum(_decodes(line, enc) for line in lines) for enc in ("utf-8", "cp949")}
    best = max(votes, key=lambda enc: (votes[enc], enc == "utf-8"))
    if votes[best] * 2 > len(lines):
        return best
    raise UnsupportedFormat(f"{name}: text in an unknown encoding (expected UTF-8, UTF-16 with BOM, or CP949/EUC-KR)")


def decode_text(data: bytes, name: str) -> tuple[str, str]:
    """The whole text of a small file and the encoding it was read with."""
    encoding = sniff_encoding(data[: 64 << 10], name)
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError as exc:
        if encoding == "utf-8":  # valid at the start only: try the legacy Korean encoding on the whole
            try:
                return data.decode("cp949"), "cp949"
            except UnicodeDecodeError:
                pass
        raise UnsupportedFormat(f"{name}: not valid {encoding} text (byte {exc.start})") from None
