"""Room on disk for what a submission leaves behind, asked for before the work that writes most of it.

Past its raw documents, a submission's `filtered` parts, its rows in the warehouse with the near-duplicate index
beside it (bucket shards, their sorted rows and filters, signature files) and its texts in the recitation guard's
index take about 28-30 bytes for every byte of its raw_submission parts (measured on the shared corpora and on a 2 GB
pool: docs/trillion.md, "What the platform keeps per token"). `filtered` asks for that room first, on each file
system those places are on: a 10 GB upload on a disk that cannot hold it stops there, naming what it needs and what
is free, instead of hours later on a full disk. The estimate is scaled by `headroom` (0: not checked)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dagster import ConfigurableResource

# Bytes kept per byte of raw_submission parts, by where they go (the larger of the two measured pools, rounded up).
PER_RAW_BYTE = {
    "the filtered documents": 9.1,  # filtered parts: documents, signatures, passages, token ids
    "the warehouse and its near-duplicate index": 17.3,  # DuckDB file 5.5, bucket shards 2.7, sorted rows 4.3,
    # their filters 0.6, signature files 4.3
    "the recitation guard's index": 3.7,
}


class NotEnoughRoom(Exception):
    """A submission would not fit on the disk: nothing past its raw documents was written."""


class DiskRoom(ConfigurableResource):
    """Where a submission's downstream bytes go: the storage folder, the warehouse file, the recitation index."""

    storage: str
    warehouse: str
    recitation_index: str
    headroom: float = 1.0

    def places(self) -> dict[str, Path]:
        return {"the filtered documents": Path(self.storage),
                "the warehouse and its near-duplicate index": Path(self.warehouse).parent,
                "the recitation guard's index": Path(self.recitation_index).parent}

    def needs(self, raw_bytes: int) -> dict[Path, tuple[int, int, list[str]]]:
        """Per file system (named by its first place): (bytes needed, bytes free, what goes there)."""
        found: dict[int, tuple[Path, int, int, list[str]]] = {}
        for what, place in self.places().items():
            existing = _existing(place)
            device = os.stat(existing).st_dev
            if device not in found:
                found[device] = (place, 0, shutil.disk_usage(existing).free, [])
            first, needed, free, kinds = found[device]
            needed += int(raw_bytes * PER_RAW_BYTE[what] * self.headroom)
            found[device] = (first, needed, free, [*kinds, what])
        return {first: (needed, free, kinds) for first, needed, free, kinds in found.values()}

    def check(self, raw_bytes: int, submission: str) -> int:
        """Raises NotEnoughRoom when `submission` (raw_bytes of raw_submission parts) would not fit; else the bytes
        it is expected to take."""
        if self.headroom <= 0:
            return 0
        needs = self.needs(raw_bytes)
        short = [(place, needed, free, kinds) for place, (needed, free, kinds) in needs.items() if needed > free]
        if short:
            lacking = "; ".join(f"about {_size(needed)} on the file system of {place} (for {', '.join(kinds)}), where "
                                f"{_size(free)} is free" for place, needed, free, kinds in short)
            raise NotEnoughRoom(
                f"not enough disk for {submission}: it needs {lacking}. Nothing past its raw documents was written; "
                "free some space or move the storage (ONETT_STORAGE_DIR, ONETT_WAREHOUSE, "
                "ONETT_RECITATION_INDEX_DIR) to a larger disk, and run `onett ingest` again "
                "(ONETT_DISK_HEADROOM scales this estimate; 0 turns the check off)")
        return sum(needed for needed, _, _ in needs.values())


def _existing(path: Path) -> Path:
    """The path itself, or its nearest existing parent (a folder made by the first write)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.1f} MB"
