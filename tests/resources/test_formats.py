"""Upload readers: every supported format yields records; a bad record costs only itself, a bad file says why."""

import csv
import gzip
import io
import json
import zipfile

import polars as pl
import pytest

from onett_resources.formats import ReadResult, UnsupportedFormat, read_stream

ARTICLE_1 = "대한민국 헌법 제1조 대한민국은 민주공화국이다."
ARTICLE_2 = "대한민국의 주권은 국민에게 있고, 모든 권력은 국민으로부터 나온다."
ARTICLE_10 = "모든 국민은 인간으로서의 존엄과 가치를 가지며, 행복을 추구할 권리를 가진다."


def read(name: str, data: bytes) -> ReadResult:
    result = ReadResult()
    read_stream(name, io.BytesIO(data), result)
    return result


def jsonl(*lines: object) -> bytes:
    """Objects become JSON lines (Korean kept as UTF-8); strings are written verbatim."""
    return "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines).encode() + b"\n"


def csv_bytes(rows: list[list[str]]) -> bytes:
    """Properly quoted CSV (Korean prose contains commas)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def triples(result: ReadResult) -> list[tuple]:
    return [(r.position, r.doc_id, r.text) for r in result.records]


JSONL_WITH_PROBLEMS = jsonl(
    {"id": "a1", "text": ARTICLE_1},
    '{"id": "broken", "text": "대한민국',  # line 2: broken JSON
    "",  # line 3: blank, ignored silently
    {"id": "n1", "text": None},  # line 4: null text
    {"id": "m1", "title": "제목만"},  # line 5: no text at all
    {"id": 7, "text": ARTICLE_2},  # line 6: numeric id becomes a string
)


def test_jsonl_keeps_ids_and_line_numbers_and_reports_bad_lines():
    """One broken line must not cost the contributor the rest of the file."""
    result = read("upload.jsonl", JSONL_WITH_PROBLEMS)
    assert triples(result) == [(1, "a1", ARTICLE_1), (6, "7", ARTICLE_2)]
    assert all(r.file == "upload.jsonl" for r in result.records)
    assert result.skipped == 3
    assert len(result.problems) == 3
    assert result.problems[0].startswith("upload.jsonl line 2: broken JSON")
    assert result.problems[1].startswith("upload.jsonl line 4:")
    assert result.problems[2].startswith("upload.jsonl line 5:")
    assert "text" in result.problems[1] and "text" in result.problems[2]


def test_jsonl_blank_lines_are_not_problems():
    """Trailing and interior blank lines are formatting, not errors."""
    result = read("blank.jsonl", b"\n\n" + jsonl({"text": ARTICLE_1}) + b"\n   \n")
    assert triples(result) == [(3, None, ARTICLE_1)]
    assert result.problems == [] and result.skipped == 0


def test_jsonl_utf8_bom_on_first_line():
    """Windows editors prepend a BOM; the first line must still parse and carry no U+FEFF."""
    result = read("bom.jsonl", b"\xef\xbb\xbf" + jsonl({"id": "x", "text": ARTICLE_1}, {"id": "y", "text": ARTICLE_2}))
    assert triples(result) == [(1, "x", ARTICLE_1), (2, "y", ARTICLE_2)]
    assert result.problems == []


def test_jsonl_gz_reads_like_jsonl():
    """Compressed JSONL gives the same records and problems as the plain file."""
    plain = read("upload.jsonl", JSONL_WITH_PROBLEMS)
    packed = read("upload.jsonl.gz", gzip.compress(JSONL_WITH_PROBLEMS))
    assert triples(packed) == triples(plain)
    assert [p.replace(".jsonl.gz", ".jsonl") for p in packed.problems] == plain.problems


@pytest.mark.parametrize("name", ["헌법.txt", "README.md", "NOTES.TXT"])
def test_text_files_are_one_document_at_position_zero(name):
    """A plain text file is one document, BOM removed, content otherwise untouched."""
    body = f"{ARTICLE_1}\n\n{ARTICLE_2}\n"
    result = read(name, b"\xef\xbb\xbf" + body.encode())
    assert triples(result) == [(0, None, body)]
    assert result.records[0].file == name


def test_txt_that_is_binary_is_rejected():
    """Binary content posing as text is refused with what it is, never read as garbage."""
    with pytest.raises(UnsupportedFormat, match="a PDF document, not text"):
        read("scan.txt", b"%PDF-1.7\n" + bytes(range(256)))
    with pytest.raises(UnsupportedFormat, match="binary data"):
        read("blob.md", bytes(range(256)) * 4)


def test_csv_with_text_column_and_multiline_field():
    """A quoted field spanning lines is one document, not several."""
    data = csv_bytes([["id", "text"], ["c1", f"{ARTICLE_1}\n{ARTICLE_2}"], ["c2", ARTICLE_10]])
    assert data.count(b"\n") == 4  # the first document really spans two physical lines
    result = read("rows.csv", data)
    texts = [(r.doc_id, r.text) for r in result.records]
    assert texts == [("c1", f"{ARTICLE_1}\n{ARTICLE_2}"), ("c2", ARTICLE_10)]
    assert result.problems == []


def test_csv_with_bom_header():
    """A BOM before the header must not hide the `text` column."""
    result = read("bom.csv", b"\xef\xbb\xbf" + f"text\n{ARTICLE_1}\n".encode())
    assert [r.text for r in result.records] == [ARTICLE_1]


def test_csv_without_text_column_is_refused_clearly():
    """The contributor is told which column is missing and what the header was."""
    with pytest.raises(UnsupportedFormat, match=r"no 'text' column") as info:
        read("rows.csv", f"id,body\n1,{ARTICLE_1}\n".encode())
    assert "rows.csv" in str(info.value) and "body" in str(info.value)


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def test_parquet_skips_and_reports_null_text():
    """A null `text` row is reported with its row number; the other rows are kept."""
    data = parquet_bytes(pl.DataFrame({"id": [1, 2, 3], "text": [ARTICLE_1, None, ARTICLE_2]}))
    result = read("table.parquet", data)
    assert triples(result) == [(1, "1", ARTICLE_1), (3, "3", ARTICLE_2)]
    assert result.skipped == 1
    assert result.problems == ["table.parquet row 2: null or non-string 'text'"]


def test_zip_reads_supported_members_and_skips_the_rest():
    """Archives are walked recursively; an image is skipped with a reason, not fatal."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.jsonl", jsonl({"id": "z1", "text": ARTICLE_1}))
        archive.writestr("inner/deep/b.txt", ARTICLE_2)
        archive.writestr("inner/c.csv", csv_bytes([["text"], [ARTICLE_10]]))
        archive.writestr("inner/d.parquet", parquet_bytes(pl.DataFrame({"text": ["제2조 국적"]})))
        archive.writestr("inner/e.jsonl.gz", gzip.compress(jsonl({"id": "g", "text": "제3조 영토"})))
        archive.writestr("image.png", b"\x89PNG\r\n\x1a\n\x00\x00")
    result = read("archive.zip", buffer.getvalue())

    by_file = {r.file: r.text for r in result.records}
    assert by_file == {
        "archive.zip/a.jsonl": ARTICLE_1,
        "archive.zip/inner/deep/b.txt": ARTICLE_2,
        "archive.zip/inner/c.csv": ARTICLE_10,
        "archive.zip/inner/d.parquet": "제2조 국적",
        "archive.zip/inner/e.jsonl.gz": "제3조 영토",
    }
    assert result.skipped == 1
    assert len(result.problems) == 1
    assert result.problems[0].startswith("archive.zip/image.png: unsupported file type")


def test_zip_member_with_bad_encoding_is_skipped_not_fatal():
    """Inside an archive a refused member is a problem; its siblings are still read."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("good.txt", ARTICLE_1)
        archive.writestr("photo.txt", b"\x89PNG\r\n\x1a\n" + bytes(200))
    result = read("docs.zip", buffer.getvalue())
    assert [r.file for r in result.records] == ["docs.zip/good.txt"]
    assert len(result.problems) == 1 and result.problems[0].startswith("docs.zip/photo.txt: a PNG image, not text")


@pytest.mark.parametrize("name", ["헌법.doc", "slides.pptx", "data.json", "noextension", "scan.png"])
def test_unknown_extension_is_refused(name):
    """Unknown types are refused with the list of what is accepted."""
    with pytest.raises(UnsupportedFormat, match="unsupported file type") as info:
        read(name, ARTICLE_1.encode())
    assert name in str(info.value) and ".jsonl" in str(info.value)
