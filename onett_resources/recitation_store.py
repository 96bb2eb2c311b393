"""The recitation guard's index on disk: one folder of memory-mapped segments (onett_text.recitation), replaced at
once by each update, read by the portal's `/v1/recitation` and by the daily check of the output logs."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from dagster import ConfigurableResource

from onett_text.recitation import MANIFEST, RecitationIndex


class IndexMissing(FileNotFoundError):
    """No recitation index has been built yet."""


class RecitationStore(ConfigurableResource):
    path: str
    min_tokens: int = 50

    @contextmanager
    def spill(self) -> Iterator[Path]:
        """A private folder beside the index for the segments an update makes (on the same file system, so the
        new generation links them), removed once the update is saved or has failed."""
        folder = Path(self.path).absolute()
        spill = folder.parent / f".{folder.name}-spill.{os.getpid()}"
        shutil.rmtree(spill, ignore_errors=True)
        try:
            yield spill
        finally:
            shutil.rmtree(spill, ignore_errors=True)

    def save(self, index: RecitationIndex) -> Path:
        """Writes the index and swaps it in at once; generations older than the new one are removed, so text that
        left the pool (withdrawn, erased, terms ended) leaves the disk with this update, not the next one."""
        return index.save(self.path, keep_previous=False)

    def current(self) -> RecitationIndex | None:
        """The index in force, to update; None when there is none, or one of an earlier format (rebuilt whole)."""
        try:
            return self.load()
        except (IndexMissing, ValueError, KeyError, OSError):
            return None

    def load(self) -> RecitationIndex:
        if not (Path(self.path) / MANIFEST).exists():
            raise IndexMissing(f"no recitation index at {self.path}: materialize `recitation_index` (onett ingest "
                               "builds it after processing uploads)")
        return RecitationIndex.load(self.path)

