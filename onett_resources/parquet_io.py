"""Document frames between stages, as one Parquet file per asset and partition.

Large payloads stay out of DuckDB (one writer) and out of Dagster's event log; any number of runs can write
their own partitions at once. Writes are atomic: a killed run never leaves half a file behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import polars as pl
from dagster import ConfigurableIOManager, InputContext, MultiPartitionKey, OutputContext


class PartitionedParquetIOManager(ConfigurableIOManager):
    base_dir: str

    def _path(self, context: InputContext | OutputContext) -> Path:
        key = context.asset_partition_key if context.has_asset_partitions else None
        parts = list(context.asset_key.path)
        if isinstance(key, MultiPartitionKey):
            dims = key.keys_by_dimension
            parts += [quote(dims["contributor"], safe=""), dims["period"]]
        elif key is not None:
            parts.append(quote(key, safe=""))
        parts[-1] += ".parquet"
        return Path(self.base_dir, *parts)

    def handle_output(self, context: OutputContext, obj: pl.DataFrame) -> None:
        path = self._path(context)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        obj.write_parquet(tmp)
        os.replace(tmp, path)

    def load_input(self, context: InputContext) -> pl.DataFrame:
        return pl.read_parquet(self._path(context))
