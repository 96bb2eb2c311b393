"""Documents between stages: per asset and partition, a folder of Parquet parts written batch by batch.

Large payloads stay out of DuckDB (one writer) and out of Dagster's event log, any number of runs can write their
own partitions at once, and a stage of any size is written and read in bounded memory (one row group per batch).
A stage writes into a fresh folder that replaces the old one only once complete: a killed run never leaves half
a partition behind (at worst the partition is missing until it is recomputed, and readers say so).
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import polars as pl
import pyarrow.parquet as pq
from dagster import ConfigurableResource

from onett_resources.parquet_parts import PARTIAL, PartWriter, read_batches


class MissingStage(FileNotFoundError):
    """A stage's output for a partition is not there: materialize it (and what it depends on) first."""


class PartitionWriter:
    def __init__(self, folder: Path):
        self.folder, self._parts, self._numbers = folder, [], 0

    def part(self, kind: str) -> PartWriter:
        writer = PartWriter(self.reserve(kind)[0])
        self._parts.append(writer)
        return writer

    def reserve(self, *kinds: str) -> list[Path]:
        """Paths for parts of the given kinds, sharing the next number, for another process to write (a worker
        writes its own output: the documents never travel back through this process)."""
        number, self._numbers = self._numbers, self._numbers + 1
        return [self.folder / f"{kind}-{number:05d}.parquet" for kind in kinds]

    def close(self) -> None:
        for part in self._parts:
            part.close()


class DocumentStore(ConfigurableResource):
    """`<base_dir>/<stage>/<contributor>/<YYYY-MM-DD>/<kind>-NNNNN.parquet`."""

    base_dir: str

    def folder(self, stage: str, contributor_id: str, period: date) -> Path:
        return Path(self.base_dir, stage, quote(contributor_id, safe=""), period.isoformat())

    def parts(self, stage: str, contributor_id: str, period: date, kind: str = "docs") -> list[Path]:
        folder = self.folder(stage, contributor_id, period)
        if not folder.is_dir():
            raise MissingStage(
                f"no {stage} output for {contributor_id} {period:%Y-%m}: materialize {stage} for this partition first"
            )
        return sorted(folder.glob(f"{kind}-*.parquet"))

    def row_groups(self, stage: str, contributor_id: str, period: date,
                   kind: str = "docs") -> list[tuple[Path, int, int]]:
        """(part, row group, uncompressed bytes) of every written batch, largest first (ties in written order):
        what workers read with `read_row_group`. Handing out the largest batches first keeps the last ones
        short, so no worker is left alone with a big batch at the end of a partition."""
        groups = []
        for path in self.parts(stage, contributor_id, period, kind):
            metadata = pq.ParquetFile(path).metadata
            groups += [(path, g, metadata.row_group(g).total_byte_size) for g in range(metadata.num_row_groups)]
        return sorted(groups, key=lambda group: -group[2])

    def batches(self, stage: str, contributor_id: str, period: date, columns: list[str],
                kind: str = "docs") -> Iterator[pl.DataFrame]:
        """The partition's rows one written batch (row group) at a time, in written order: bounded memory."""
        return read_batches(self.parts(stage, contributor_id, period, kind), columns)

    def scan(self, stage: str, contributor_id: str, period: date, kind: str = "docs") -> pl.LazyFrame | None:
        parts = self.parts(stage, contributor_id, period, kind)
        return pl.scan_parquet(parts) if parts else None

    @contextmanager
    def writing(self, stage: str, contributor_id: str, period: date) -> Iterator[PartitionWriter]:
        """Parts written here replace the partition's previous output when the block completes, not before."""
        final = self.folder(stage, contributor_id, period)
        final.parent.mkdir(parents=True, exist_ok=True)
        work = final.with_name(f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        work.mkdir()
        writer = PartitionWriter(work)
        try:
            yield writer
            writer.close()
            for partial in work.glob(f"*{PARTIAL}"):  # left by a job whose worker was lost and which ran again
                partial.unlink()
            for part in work.iterdir():
                with open(part, "rb") as handle:
                    os.fsync(handle.fileno())
            _publish(work, final)
        finally:
            writer.close()
            shutil.rmtree(work, ignore_errors=True)


def _publish(work: Path, final: Path, attempts: int = 8) -> None:
    """Swaps the finished folder `work` in as `final`. Two ingests racing on one partition both get here with the
    same parts: one may publish between the other's two renames (a rename onto a folder with files fails), and the
    later one then moves that folder aside too, so the last writer's folder stands and none is left half-moved."""
    for attempt in range(attempts):
        old = final.with_name(f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.old")
        try:
            os.rename(final, old)
        except FileNotFoundError:  # nothing published yet, or another writer moved it aside meanwhile
            pass
        try:
            os.rename(work, final)
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST) or attempt == attempts - 1:
                raise
        finally:
            shutil.rmtree(old, ignore_errors=True)
