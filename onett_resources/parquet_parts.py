"""Parquet parts as the worker processes write and read them: kept free of Dagster, so a worker starts in a
fraction of the time (it imports only what preprocessing needs).

Every page carries a CRC checksum and every read by pyarrow checks it: a part damaged on disk (a flipped bit, a
torn write) fails the step that reads it, naming the file, instead of being read as other numbers or as empty.
DuckDB does not check page checksums, so the parts it reads are verified first (`verify_parts`)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import polars as pl
import pyarrow.parquet as pq

PARTIAL = ".partial"  # a part being written


class PartWriter:
    """One Parquet file of a partition, written one row group per `write`, under a name of its own until `close`
    renames it into place: a job run again after its node was lost (or one racing it) never leaves a torn part.
    `compress=False` for data that does not compress (MinHash signatures and band keys are random integers: zstd
    and dictionary encoding cost more time for the same size)."""

    def __init__(self, path: Path, compress: bool = True):
        self.path, self._writer, self.rows = path, None, 0
        self._partial = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{PARTIAL}")
        self._options = dict(compression="zstd") if compress else dict(compression="none", use_dictionary=False)

    def write(self, frame: pl.DataFrame) -> None:
        if frame.height == 0:
            return
        table = frame.to_arrow()
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._partial, table.schema, write_page_checksum=True, **self._options)
        self._writer.write_table(table, row_group_size=max(table.num_rows, 1))
        self.rows += frame.height

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            os.replace(self._partial, self.path)

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._partial.unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)
        self.rows = 0


class DamagedPart(OSError):
    """A part that cannot be read back as written."""


def read_row_group(path: Path | str, group: int, columns: list[str] | None = None) -> pl.DataFrame:
    try:
        return pl.from_arrow(_open(path).read_row_group(group, columns=columns))
    except (OSError, ValueError) as exc:
        raise DamagedPart(f"{path}: damaged ({exc}); the step that wrote it must run again") from None


def read_batches(paths: list[Path], columns: list[str] | None = None) -> Iterator[pl.DataFrame]:
    """The rows of these parts one written batch (row group) at a time, in order: bounded memory."""
    for path in paths:
        for group in range(_open(path).num_row_groups):
            yield read_row_group(path, group, columns)


def verify_parts(paths: list[Path | str]) -> None:
    """Every page of every part read through against its checksum; `DamagedPart` names the first that fails."""
    for path in paths:
        try:
            part = _open(path)
            for group in range(part.num_row_groups):
                part.read_row_group(group)
        except (OSError, ValueError) as exc:
            raise DamagedPart(f"{path}: damaged ({exc}); the step that wrote it must run again") from None


def _open(path: Path | str) -> pq.ParquetFile:
    return pq.ParquetFile(path, page_checksum_verification=True)
