"""A Parquet part damaged on disk between two steps stops the step that reads it, naming the file; it is never read
as other numbers or as an empty submission, and `onett verify` finds it first."""

from __future__ import annotations

from datetime import date

from conftest import corpus, seoul
from onett_assets.partitions import submission_key
from onett_cli.runner import run_reported


def _flip_a_byte_inside(path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit: the file stays well-formed, only a page's content changes
    path.write_bytes(bytes(data))


def _ingested(onett) -> str:
    texts = [d["text"] for d in corpus("ko_petitions", "petitions.jsonl.gz", limit=40)]
    onett.drop("bob", "b.jsonl", [{"id": f"b{i}", "text": t} for i, t in enumerate(texts)], seoul(2026, 9, 20))
    onett.ok("ingest")
    return str(submission_key("bob", date(2026, 9, 1)))


def test_a_damaged_index_part_stops_credit_and_verify_names_it(onett):
    key = _ingested(onett)
    documents = onett.query("SELECT * FROM documents ORDER BY ALL")
    assert documents and onett.query("SELECT sum(tokens) FROM documents WHERE status = 'accepted'")[0][0] > 0
    index = sorted((onett.home / "data" / "filtered").rglob("index-*.parquet"))[0]
    _flip_a_byte_inside(index)

    code, out = onett.cli("verify")
    assert code == 1 and f"PROBLEM: part {index}: damaged" in out and "CRC checksum verification failed" in out

    error, _ = run_reported(onett.session(), "credit_submission", key)
    assert f"{index}: damaged" in error and "must run again" in error
    assert onett.query("SELECT * FROM documents ORDER BY ALL") == documents  # nothing decided from the bad part


def test_a_damaged_raw_part_stops_filtering(onett):
    key = _ingested(onett)
    filtered = {p: p.read_bytes() for p in (onett.home / "data" / "filtered").rglob("*.parquet")}
    raw = sorted((onett.home / "data" / "raw_submission").rglob("docs-*.parquet"))[0]
    _flip_a_byte_inside(raw)

    error, _ = run_reported(onett.session(), "filter_submission", key)
    assert f"{raw}: damaged" in error
    assert {p: p.read_bytes() for p in (onett.home / "data" / "filtered").rglob("*.parquet")} == filtered
