"""The process documents are read in: one child process, reused file after file, under a time and memory limit.

Document formats are where hostile input lives (a PDF whose objects nest without end, a page tree claiming a
million pages, an HWP stream that inflates without end) and where native libraries run (PDFium). Reading them in a
child keeps the process that reads the partition out of reach: a file that takes longer than the time limit gets
its reader killed, one that needs more memory than the limit fails its allocation, one that crashes the library
ends the child; each becomes that file's reason, and the next file gets a fresh child. The child is started with
`spawn` (never a fork of a threaded Dagster process) and imports only the readers."""

from __future__ import annotations

import multiprocessing
import resource
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Callable

from onett_resources.extraction import Extraction, ExtractionLimits, UnsupportedFormat, extract_document

DEFAULT_SECONDS = 300.0
DEFAULT_MEMORY = 2 << 30


class ExtractionWorker:
    """`extract(path, suffix)` in a child process; a context manager that stops the child on exit."""

    def __init__(self, seconds: float = DEFAULT_SECONDS, memory_bytes: int = DEFAULT_MEMORY,
                 limits: ExtractionLimits = ExtractionLimits(),
                 reader: Callable[[Path, str, ExtractionLimits], Extraction] = extract_document):
        """`reader` runs in the child: a module-level function (the child imports it by name)."""
        self.seconds, self.memory_bytes, self.limits, self.reader = seconds, memory_bytes, limits, reader
        self._process: multiprocessing.Process | None = None
        self._conn: Connection | None = None

    def __enter__(self) -> ExtractionWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def extract(self, path: Path, suffix: str) -> Extraction:
        conn = self._start()
        conn.send((str(path), suffix))
        if not conn.poll(self.seconds):
            self._stop(kill=True)
            raise UnsupportedFormat(f"not read within the time limit of {self.seconds:g} s per document (a document "
                                    "this slow to read is usually damaged or built to exhaust readers)")
        try:
            kind, value = conn.recv()
        except (EOFError, OSError):
            code = self._stop(kill=True)
            raise UnsupportedFormat(f"its reader stopped without an answer (exit code {code}): the document is "
                                    "damaged in a way the reading library cannot survive") from None
        if kind == "ok":
            return value
        if kind == "rejected":
            raise UnsupportedFormat(value)
        if kind == "memory":
            self._stop(kill=True)  # a child that ran out of memory may be in any state: start afresh
            raise UnsupportedFormat(f"needs more than {self.memory_bytes >> 20} MB of memory to read")
        raise UnsupportedFormat(f"could not be read ({value})")

    def close(self) -> None:
        self._stop(kill=False)

    def _start(self) -> Connection:
        if self._process is None or not self._process.is_alive():
            context = multiprocessing.get_context("spawn")
            parent, child = context.Pipe()
            self._process = context.Process(target=_serve, args=(child, self.memory_bytes, self.limits, self.reader),
                                             name="onett-extraction", daemon=True)
            self._process.start()
            child.close()
            self._conn = parent
        assert self._conn is not None
        return self._conn

    def _stop(self, kill: bool) -> int | None:
        process, conn, self._process, self._conn = self._process, self._conn, None, None
        if process is None:
            return None
        if conn is not None:
            if not kill:
                try:
                    conn.send(None)
                except OSError:
                    pass
            conn.close()
        process.join(timeout=0 if kill else 5)
        if process.is_alive():
            process.kill()
            process.join()
        return process.exitcode


def _serve(conn: Connection, memory_bytes: int, limits: ExtractionLimits,
           reader: Callable[[Path, str, ExtractionLimits], Extraction]) -> None:
    """The child's loop: one (path, suffix) in, one ("ok" | "rejected" | "memory" | "error", value) out. The memory
    limit is on the address space (RLIMIT_AS): an allocation beyond it fails inside the child, never the machine."""
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        path, suffix = job
        try:
            answer = ("ok", reader(Path(path), suffix, limits))
        except UnsupportedFormat as exc:
            answer = ("rejected", str(exc))
        except MemoryError:
            answer = ("memory", "")
        except RecursionError:
            answer = ("rejected", "nested too deeply to read (a damaged or hostile document)")
        except Exception as exc:  # a library's own error on a damaged file: named, so it can be looked into
            answer = ("error", f"{exc.__class__.__name__}: {str(exc)[:300]}")
        try:
            conn.send(answer)
        except MemoryError:
            conn.send(("memory", ""))
