"""Parquet parts as the worker processes write and read them: kept free of Dagster, so a worker starts in a
fraction of the time (it imports only what preprocessing needs)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq


class PartWriter:
    """One Parquet file of a partition, written one row group per `write`. `compress=False` for data that does not
    compress (MinHash signatures and band keys are random integers: zstd and dictionary encoding cost more
    time for the same size)."""

    def __init__(self, path: Path, compress: bool = True):
        self.path, self._writer, self.rows = path, None, 0
        self._options = dict(compression="zstd") if compress else dict(compression="none", use_dictionary=False)

    def write(self, frame: pl.DataFrame) -> None:
        if frame.height == 0:
            return
        table = frame.to_arrow()
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema, **self._options)
        self._writer.write_table(table, row_group_size=max(table.num_rows, 1))
        self.rows += frame.height

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)
        self.rows = 0


def read_row_group(path: Path | str, group: int, columns: list[str] | None = None) -> pl.DataFrame:
    return pl.from_arrow(pq.ParquetFile(path).read_row_group(group, columns=columns))
