"""Korean files in the encodings real folders hold, and hostile files, read safely (the bad-input issue)."""

from __future__ import annotations

import gzip
import io
import json
import zipfile

import pytest

from onett_resources.formats import Limits, ReadResult, UnsupportedFormat, read_stream

TEXT = "대한민국은 민주공화국이다. 대한민국의 주권은 국민에게 있고, 모든 권력은 국민으로부터 나온다."


def read(name: str, data: bytes, limits: Limits = Limits()) -> ReadResult:
    result = ReadResult()
    read_stream(name, io.BytesIO(data), result, limits)
    return result


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp949", "euc-kr"])
def test_text_file_in_each_encoding_reads_the_same(encoding):
    result = read("doc.txt", TEXT.encode(encoding))
    assert [r.text for r in result.records] == [TEXT]
    assert bool(result.notes) == (encoding in ("utf-16", "cp949", "euc-kr"))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "cp949"])
def test_jsonl_and_csv_in_each_encoding(encoding):
    jsonl = "".join(json.dumps({"id": i, "text": f"{TEXT} {i}"}, ensure_ascii=False) + "\n" for i in range(3))
    assert [r.text for r in read("a.jsonl", jsonl.encode(encoding)).records] == [f"{TEXT} {i}" for i in range(3)]
    csv_text = "id,text\r\n" + "".join(f'{i},"{TEXT} {i}"\r\n' for i in range(3))
    assert [r.text for r in read("a.csv", csv_text.encode(encoding)).records] == [f"{TEXT} {i}" for i in range(3)]


def test_a_bad_line_in_a_cp949_jsonl_is_skipped_alone():
    good = json.dumps({"text": TEXT}, ensure_ascii=False).encode("cp949")
    result = read("a.jsonl", good + b"\n" + b'{"text": "\xff\xff\xff"}\n' + good + b"\n")
    assert len(result.records) == 2 and result.skipped == 1 and "line 2" in result.problems[0]


def test_gzip_bomb_is_stopped_without_inflating_it():
    bomb = gzip.compress(b"{" + b" " * (64 << 20) + b"}\n")  # 64 MB of spaces in ~64 KB
    with pytest.raises(UnsupportedFormat, match="compression ratio"):
        read("bomb.jsonl.gz", bomb)


def test_zip_bomb_member_is_skipped_and_siblings_read():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ok.txt", TEXT)
        archive.writestr("bomb.txt", b"a" * (32 << 20))
    result = read("up.zip", buffer.getvalue())
    assert [r.text for r in result.records] == [TEXT]
    assert "bomb.txt" in result.problems[0] and "zip bomb" in result.problems[0]


def test_total_unpacked_size_is_capped():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for i in range(5):
            archive.writestr(f"{i}.txt", TEXT * 100)
    limits = Limits(max_unpacked_bytes=len((TEXT * 100).encode()) * 2 + 10)
    result = read("up.zip", buffer.getvalue(), limits)
    assert len(result.records) == 2 and "expands beyond" in result.problems[-1]


def test_archive_members_escaping_the_archive_are_not_read():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../etc/evil.txt", TEXT)
        archive.writestr("/abs/evil.txt", TEXT)
        archive.writestr("fine/ok.txt", TEXT)
    result = read("up.zip", buffer.getvalue())
    assert [r.file for r in result.records] == ["up.zip/fine/ok.txt"]
    assert result.skipped == 2 and all("leaves the archive" in p for p in result.problems)


def test_huge_single_line_is_skipped_and_the_rest_kept():
    line = json.dumps({"text": "가" * (3 << 20)}, ensure_ascii=False).encode()
    good = json.dumps({"text": TEXT}, ensure_ascii=False).encode()
    result = read("a.jsonl", good + b"\n" + line + b"\n" + good + b"\n", Limits(max_document_bytes=1 << 20))
    assert [r.position for r in result.records] == [1, 3]
    assert result.skipped == 1 and "line 2" in result.problems[0] and "longer than 1 MB" in result.problems[0]


def test_nested_archives_are_not_opened():
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("x.txt", TEXT)
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as archive:
        archive.writestr("inner.zip", inner.getvalue())
        archive.writestr("y.txt", TEXT)
    result = read("up.zip", outer.getvalue())
    assert [r.file for r in result.records] == ["up.zip/y.txt"]
    assert "archives inside archives" in result.problems[0]
