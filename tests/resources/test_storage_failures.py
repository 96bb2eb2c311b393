"""An upload read into a raw part batch by batch: every record kept in order. A write that fails on the platform's
side (the raw part, the private copy an archived document is read from) stops the read as the platform's fault,
never as a corrupt file or an archive member read in part."""

import contextlib
import errno
import io
import json
import os
from pathlib import Path

import polars as pl
import pytest

from conftest import corpus, jsonl_zip
from onett_cli.main import disk_full
from onett_domain.uploads import Upload
import onett_resources.formats as formats
from onett_resources.formats import ReadResult, StorageFailed, read_stream
from onett_resources.landing_zone import LandingZone
from onett_resources.parquet_parts import PartWriter, read_batches

BATCH_CHARS = 64 << 10  # many batches from a few hundred documents


def _archive(path: Path) -> tuple[Upload, int]:
    """Two members of real text, court decisions and statutes, and how many documents they hold."""
    members = {"precedents.jsonl": corpus("ko_court_precedents", "precedents.jsonl.gz", 300),
               "laws.jsonl": corpus("ko_laws", "laws.jsonl.gz", 200)}
    path.write_bytes(jsonl_zip(members))
    stat = path.stat()
    return Upload("archive", path.name, path, stat.st_size, stat.st_mtime_ns), sum(map(len, members.values()))


def _frame(records) -> pl.DataFrame:
    return pl.DataFrame({"file": [r.file for r in records], "position": [r.position for r in records],
                         "text": [r.text for r in records]})


class _FullDisk(PartWriter):
    """A part whose third batch finds no space left."""

    def write(self, frame: pl.DataFrame) -> None:
        self.batches = getattr(self, "batches", 0) + 1
        if self.batches == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        super().write(frame)


def test_a_part_written_batch_by_batch_holds_every_record_in_order(tmp_path):
    upload, documents = _archive(tmp_path / "archive.zip")
    zone = LandingZone(path=str(tmp_path))
    whole, error, _ = zone.read(upload)
    assert error is None and whole.documents == documents

    part, batches = PartWriter(tmp_path / "docs-00000.parquet"), []

    def sink(records):
        batches.append(len(records))
        part.write(_frame(records))

    result, error, _ = zone.read(upload, sink=sink, batch_chars=BATCH_CHARS)
    part.close()
    assert error is None and result.documents == documents and len(batches) > 10
    written = pl.concat(read_batches([part.path]))
    assert written.rows() == _frame(whole.records).rows()


def test_a_write_that_fails_stops_the_read_as_the_platforms_fault(tmp_path):
    """Before, the archive member being read was skipped as "could not be read (OSError ...)" and the upload
    accepted in part: a full disk on the platform's side cost the contributor documents, blamed on their file."""
    upload, _ = _archive(tmp_path / "archive.zip")
    part = _FullDisk(tmp_path / "docs-00000.parquet")
    zone = LandingZone(path=str(tmp_path))
    with pytest.raises(StorageFailed) as failure:
        zone.read(upload, sink=lambda records: part.write(_frame(records)), batch_chars=BATCH_CHARS)
    message = str(failure.value)
    assert message.startswith("archive.zip: what was read could not be stored")
    assert "No space left on device" in message and "read again when the run is retried" in message
    assert isinstance(failure.value.__cause__, OSError) and failure.value.__cause__.errno == errno.ENOSPC
    assert disk_full(failure.value) is not None  # `onett` then says the disk is full, in one line
    part.discard()
    assert list(tmp_path.glob("docs-*")) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (every write to it finds no space)")
def test_an_archived_documents_copy_that_cannot_be_written_is_the_platforms_fault(tmp_path, monkeypatch):
    """A document inside an archive is read from a private copy; the copy's disk full was taken for a corrupt member
    (skipped, the archive accepted in part)."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "document.docx").symlink_to("/dev/full")
    monkeypatch.setattr(formats.tempfile, "TemporaryDirectory", lambda **_: contextlib.nullcontext(str(scratch)))
    statutes = corpus("ko_laws", "laws.jsonl.gz", 20)
    data = jsonl_zip({"laws.jsonl": statutes, "report.docx": os.urandom(3 << 20)})  # its copy fails before it opens
    result = ReadResult()
    with pytest.raises(StorageFailed, match="No space left on device") as failure:
        read_stream("archive.zip", io.BytesIO(data), result, documents=object())
    assert failure.value.__cause__.errno == errno.ENOSPC
    assert result.documents == len(statutes) and result.skipped == 0


def test_memory_running_out_while_reading_is_not_a_verdict_on_the_file(tmp_path, monkeypatch):
    """Before, it was caught with corrupt streams: "could not be read completely (MemoryError)", the file accepted in
    part with the documents before it."""
    upload, _ = _archive(tmp_path / "archive.zip")
    real, calls = json.loads, []

    def loads(text):
        calls.append(text)
        if len(calls) == 50:
            raise MemoryError
        return real(text)

    monkeypatch.setattr(formats.json, "loads", loads)
    with pytest.raises(MemoryError):
        LandingZone(path=str(tmp_path)).read(upload)
    assert len(calls) == 50
