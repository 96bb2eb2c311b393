"""Extraction quality and speed per document format, on shared-corpus text rendered by real tools.

Korean statutes, court decisions and petitions and an English novel are rendered into PDF (one and two columns),
DOCX, EPUB and HTML by LibreOffice (running header, "- N -" page numbers in the footer, a footnote, a table,
English hyphenation), into HWPX by python-hwpx and into HWP 5 by onett's own writer (running header, table,
footnote), plus a scan-only PDF. Each is read by onett's readers and compared with its source text:

- similarity: character-level (rapidfuzz Indel normalized similarity) of the extracted text and the source;
- junk: tokens of running-header text and page numbers left in the extracted text, over its tokens;
- tokens paid / source tokens (cl100k);
- throughput: MB/s of document and pages/s (PDF), one core; peak RSS reading a 500-page PDF and a 200 MB DOCX,
  each in a fresh process.

    .venv/bin/python bench/extraction_quality.py [--docs 12] [--out docs/extraction-quality.md]
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import multiprocessing
import re
import resource
import statistics
import sys
import tempfile
import time
import zipfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rapidfuzz.distance import Indel  # noqa: E402

from onett_resources.extraction import ExtractionLimits, UnsupportedFormat, extract_document  # noqa: E402
from onett_text.tokens import load_encoding  # noqa: E402
from tests.documents.hwp5 import Header, Table, write_hwp  # noqa: E402
from tests.documents.hwpx import write_hwpx  # noqa: E402
from tests.documents.libreoffice import Layout, SourceDoc, render  # noqa: E402
from tests.documents.scans import image_only_pdf  # noqa: E402

HEADER = "한국법제연구원 법령집 (주)온에트 출판"
ENGLISH_HEADER = "Project Gutenberg Edition"
FOOTNOTE = "이 조항은 2020년에 개정되었다."
TABLE = [["구분", "내용"], ["제1조", "목적"], ["제2조", "정의"]]
PAGE_NUMBER = re.compile(r"^\s*-\s*\d+\s*-\s*$", re.MULTILINE)
TARGET_SIMILARITY, TARGET_JUNK = 0.98, 0.005


def load(corpora: Path, name: str, file: str, count: int, low: int, high: int) -> list[str]:
    texts = []
    with gzip.open(corpora / name / file, "rt", encoding="utf-8") as handle:
        for line in handle:
            text = json.loads(line)["text"]
            if low <= len(text) <= high:
                texts.append(text)
            if len(texts) >= count:
                break
    return texts


def english(text: str) -> list[str]:
    return [" ".join(p.split()) for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]


def korean(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip()]


def sources(corpora: Path, count: int) -> list[SourceDoc]:
    per = max(1, count // 4)
    korean_texts = (load(corpora, "ko_laws", "laws.jsonl.gz", per, 8000, 60000)
                    + load(corpora, "ko_court_precedents", "precedents.jsonl.gz", per, 6000, 40000)
                    + load(corpora, "ko_petitions", "petitions.jsonl.gz", per, 4000, 20000))
    docs = [SourceDoc(f"ko{n}", korean(text), Layout(header=HEADER, footnotes=[FOOTNOTE], table=TABLE,
                                                     columns=1 + n % 2))
            for n, text in enumerate(korean_texts)]
    novels = load(corpora, "en_gutenberg_editions", "editions.jsonl.gz", per, 30000, 10 ** 7)
    docs += [SourceDoc(f"en{n}", english(text[:40000]), Layout(header=ENGLISH_HEADER, language="en",
                                                               columns=1 + n % 2))
             for n, text in enumerate(novels)]
    return docs


def hancom(docs: list[SourceDoc], folder: Path) -> list[tuple[str, Path, SourceDoc]]:
    """Each Korean source as HWP and HWPX: running header, the table after the first paragraph."""
    made = []
    for doc in docs:
        if not doc.name.startswith("ko"):
            continue
        blocks = [Header(HEADER), doc.paragraphs[0], Table(TABLE), *doc.paragraphs[1:]]
        plain = SourceDoc(doc.name, doc.paragraphs, Layout(table=TABLE))
        made.append(("hwp", write_hwp(folder / f"{doc.name}.hwp", [blocks]), plain))
        made.append(("hwpx", write_hwpx(folder / f"{doc.name}.hwpx", [blocks]), plain))
    return made


def measure(kind: str, path: Path, doc: SourceDoc, encode) -> dict:
    started = time.process_time()
    extraction = extract_document(path, path.suffix)
    seconds = time.process_time() - started
    text = extraction.text
    junk = [HEADER, ENGLISH_HEADER] + PAGE_NUMBER.findall(text)
    junk_tokens = sum(text.count(j) * len(encode(j)) for j in junk if j in text)
    tokens = len(encode(text))
    body = doc.body if kind not in ("hwp", "hwpx") else _hancom_body(doc)
    return {"format": kind, "name": doc.name, "bytes": path.stat().st_size, "seconds": seconds,
            "pages": extraction.read if extraction.unit == "pages" else 0,
            "similarity": Indel.normalized_similarity(body, text), "junk": junk_tokens / max(tokens, 1),
            "tokens": tokens, "source_tokens": len(encode(body))}


def _hancom_body(doc: SourceDoc) -> str:
    rows = [" | ".join(row) for row in doc.layout.table]
    return "\n".join(doc.paragraphs[:1] + rows + doc.paragraphs[1:])


def web_pages(corpora: Path, folder: Path, encode) -> dict:
    """The Korean LibreOffice help as web pages (a logo bar, module menus, a debug footer on every page): share of
    each page's prose lines recovered, and tokens of that furniture left."""
    furniture = ("LibreOffice 7.4 Help", "Help content debug info", "This page is:", "Title is:")
    recalled, left, tokens, size, seconds = [], 0, 0, 0, 0.0
    with gzip.open(corpora / "ko_libreoffice_help_html" / "help_pages.jsonl.gz", "rt", encoding="utf-8") as handle:
        pages = [json.loads(line) for line in handle]
    for number, page in enumerate(pages):
        path = folder / f"help{number}.html"
        path.write_text(page["text"], encoding="utf-8")
        size += path.stat().st_size
        started = time.process_time()
        try:
            text = extract_document(path, ".html").text
        except UnsupportedFormat:
            text = ""
        seconds += time.process_time() - started
        flat = " ".join(text.split())
        prose = [" ".join(line.split()) for line in page["extracted_text"].split("\n")
                 if len(line.strip()) > 30 and len(re.findall("[가-힣]", line)) > 10]
        if prose:
            recalled.append(sum(line in flat for line in prose) / len(prose))
        left += sum(text.count(f) * len(encode(f)) for f in furniture)
        tokens += len(encode(text))
    return {"pages": len(pages), "recall": statistics.median(recalled), "p10": sorted(recalled)[len(recalled) // 10],
            "junk": left / max(tokens, 1), "mbps": size / 1e6 / seconds}


def _peak(kind: str, path: str) -> tuple[float, float, int]:
    """Runs in a fresh process: (peak RSS MB, seconds, characters) reading one document."""
    started = time.perf_counter()
    extraction = extract_document(Path(path), kind, ExtractionLimits(max_pages=20_000))
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, time.perf_counter() - started,
            len(extraction.text))


def peak(kind: str, path: Path) -> tuple[float, float, int]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_peak, (kind, str(path)))


def big_pdf(corpora: Path, folder: Path) -> Path:
    laws = load(corpora, "ko_laws", "laws.jsonl.gz", 400, 2000, 10 ** 7)
    paragraphs, pages = [], 0.0
    for text in laws:
        paragraphs += korean(text)
        pages += len(text) / 2200
        if pages > 520:
            break
    return render([SourceDoc("book500", paragraphs, Layout(header=HEADER))], ["pdf"], folder)[0].path


def big_docx(corpora: Path, folder: Path) -> Path:
    """About 200 MB: 300 MB of body XML (the statutes repeated, deflated) and 168 MB of pictures stored as they
    are, as in a scanned-and-typed report."""
    laws = [korean(t) for t in load(corpora, "ko_laws", "laws.jsonl.gz", 40, 2000, 10 ** 7)]
    paragraphs = "".join(f'<w:p><w:r><w:t xml:space="preserve">{line}</w:t></w:r></w:p>'
                         for text in laws for line in text if "<" not in line and "&" not in line)
    path = folder / "big.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as docx:
        with docx.open("word/document.xml", "w", force_zip64=True) as xml:
            xml.write(b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>')
            chunk = paragraphs.encode()
            for _ in range(max(1, (300 << 20) // len(chunk))):
                xml.write(chunk)
            xml.write(b"</w:body></w:document>")
        for n in range(14):
            docx.writestr(zipfile.ZipInfo(f"word/media/image{n}.jpeg"), _noise(12 << 20), zipfile.ZIP_STORED)
    return path


def _noise(size: int) -> bytes:
    import random

    return random.Random(size).randbytes(size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=12, help="documents per format (a quarter English)")
    parser.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument("--out", type=Path, help="write the report (markdown) here")
    parser.add_argument("--skip-large", action="store_true", help="skip the 500-page PDF and the 200 MB DOCX")
    args = parser.parse_args()
    encode = load_encoding("cl100k_base").encode_ordinary
    folder = Path(tempfile.mkdtemp(prefix="onett-extraction-"))
    docs = sources(args.corpora, args.docs)
    rendered = [(r.path.suffix[1:], r.path, r.source) for r in render(docs, ["pdf", "docx", "epub", "html"], folder)]
    rows = [measure(kind, path, doc, encode) for kind, path, doc in rendered + hancom(docs, folder)]
    web = web_pages(args.corpora, folder, encode)
    scan = image_only_pdf(folder / "ko0.pdf", folder / "scan.pdf", pages=5)
    try:
        extract_document(scan, ".pdf")
        scan_result = "read (wrong)"
    except UnsupportedFormat as exc:
        scan_result = f"refused, 0 tokens paid: {exc}"
    large = []
    if not args.skip_large:
        pdf = big_pdf(args.corpora, folder)
        rss, seconds, chars = peak(".pdf", pdf)
        pages = len(__import__("pypdfium2").PdfDocument(str(pdf)))
        large.append(("PDF", f"{pages} pages, {pdf.stat().st_size / 1e6:.1f} MB", rss, seconds, chars))
        docx = big_docx(args.corpora, folder)
        rss, seconds, chars = peak(".docx", docx)
        xml = zipfile.ZipFile(docx).getinfo("word/document.xml").file_size
        large.append(("DOCX", f"{docx.stat().st_size / 1e6:.0f} MB ({xml / 1e6:.0f} MB of body XML, pictures)", rss,
                      seconds, chars))
    report = _report(rows, web, scan_result, large, args)
    print(report)
    if args.out:
        args.out.write_text(report)


def _report(rows: list[dict], web: dict, scan: str, large: list, args) -> str:
    formats = ["pdf", "docx", "epub", "html", "hwp", "hwpx"]
    lines = [f"# Extraction quality and speed", "", f"## {date.today():%Y-%m-%d}", "",
             f"    .venv/bin/python bench/extraction_quality.py --docs {args.docs}"
             + (f" --out {args.out}" if args.out else ""), "",
             "Shared-corpus text (Korean statutes, court decisions, petitions; an English novel, in parts) rendered by "
             "LibreOffice 7.4 into PDF (every other document in two columns), DOCX, EPUB and HTML with a running "
             "header, `- N -` page numbers, a footnote and a table (English hyphenated); into HWPX by python-hwpx and "
             "HWP 5 by onett's writer (running header and table; Korean sources only). One core; CPU time.", "",
             "| format | documents | similarity median | similarity min | junk tokens left (max) | tokens paid / source | MB/s | pages/s | targets |",
             "|---|---|---|---|---|---|---|---|---|"]
    for kind in formats:
        group = [r for r in rows if r["format"] == kind]
        if not group:
            continue
        similarity = [r["similarity"] for r in group]
        junk = max(r["junk"] for r in group)
        seconds = sum(r["seconds"] for r in group)
        pages = sum(r["pages"] for r in group)
        met = min(similarity) >= TARGET_SIMILARITY and junk <= TARGET_JUNK
        lines.append(f"| {kind.upper()} | {len(group)} | {statistics.median(similarity):.4f} | {min(similarity):.4f} | "
                     f"{junk:.2%} | {sum(r['tokens'] for r in group) / sum(r['source_tokens'] for r in group):.3f} | "
                     f"{sum(r['bytes'] for r in group) / 1e6 / seconds:.1f} | "
                     f"{f'{pages / seconds:.0f}' if pages else '-'} | {'met' if met else 'NOT met'} |")
    lines += ["", f"HTML web pages (the {web['pages']} pages of the Korean LibreOffice help in the shared corpora, "
              "main content by trafilatura): prose lines recovered per page, median "
              f"{web['recall']:.3f} (10th percentile {web['p10']:.3f}); navigation and footer tokens left "
              f"{web['junk']:.2%}; {web['mbps']:.1f} MB/s.", "",
              f"Scan-only PDF (5 pages of pictures): {scan}.", ""]
    if large:
        lines += ["| large document | size | peak RSS (fresh process) | seconds | characters |", "|---|---|---|---|---|"]
        lines += [f"| {kind} | {size} | {rss:.0f} MB | {seconds:.1f} | {chars:,} |" for kind, size, rss, seconds, chars
                  in large]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
