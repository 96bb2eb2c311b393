"""The extraction worker: a document that hangs, eats memory or crashes its reader costs that document only."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from onett_resources.extraction import Extraction, ExtractionLimits, Section, UnsupportedFormat
from onett_resources.extraction.worker import ExtractionWorker


def behaving(path: Path, suffix: str, limits: ExtractionLimits) -> Extraction:
    """A stand-in reader whose behaviour is the file's content: 'sleep', 'eat', 'crash', 'fail', or text."""
    content = path.read_text()
    if content == "sleep":
        time.sleep(60)
    if content == "eat":
        hoard = []
        while True:
            hoard.append(bytearray(64 << 20))
    if content == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if content == "fail":
        raise KeyError("word/document.xml")
    if content == "refuse":
        raise UnsupportedFormat("password-protected PDF")
    return Extraction([Section(content)], "stand-in 1", "documents", 1, notes=[f"pid {os.getpid()}"])


@pytest.fixture
def files(tmp_path):
    def make(content: str) -> Path:
        path = tmp_path / f"{content[:12]}-{len(list(tmp_path.iterdir()))}.pdf"
        path.write_text(content)
        return path
    return make


def test_documents_are_read_in_one_child_reused_from_file_to_file(files):
    with ExtractionWorker(seconds=30, reader=behaving) as worker:
        first = worker.extract(files("첫 번째 문서"), ".pdf")
        second = worker.extract(files("두 번째 문서"), ".pdf")
    assert (first.text, second.text) == ("첫 번째 문서", "두 번째 문서")
    assert first.notes == second.notes and first.notes != [f"pid {os.getpid()}"]


def test_a_document_over_the_time_limit_is_refused_and_the_next_one_read(files):
    with ExtractionWorker(seconds=1.5, reader=behaving) as worker:
        started = time.monotonic()
        with pytest.raises(UnsupportedFormat, match="not read within the time limit of 1.5 s"):
            worker.extract(files("sleep"), ".pdf")
        assert time.monotonic() - started < 10
        assert worker.extract(files("다음 문서"), ".pdf").text == "다음 문서"


def test_a_document_that_needs_too_much_memory_is_refused(files):
    with ExtractionWorker(seconds=60, memory_bytes=768 << 20, reader=behaving) as worker:
        with pytest.raises(UnsupportedFormat, match="needs more than 768 MB of memory to read"):
            worker.extract(files("eat"), ".pdf")
        assert worker.extract(files("다음 문서"), ".pdf").text == "다음 문서"


def test_a_reader_that_crashes_costs_that_document_only(files):
    with ExtractionWorker(seconds=30, reader=behaving) as worker:
        with pytest.raises(UnsupportedFormat, match=r"its reader stopped without an answer \(exit code -11\)"):
            worker.extract(files("crash"), ".pdf")
        with pytest.raises(UnsupportedFormat, match=r"could not be read \(KeyError: 'word/document.xml'\)"):
            worker.extract(files("fail"), ".pdf")
        with pytest.raises(UnsupportedFormat, match="^password-protected PDF$"):
            worker.extract(files("refuse"), ".pdf")
        assert worker.extract(files("다음 문서"), ".pdf").text == "다음 문서"
