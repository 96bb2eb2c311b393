"""The reference corpus: text the consumer already has or that is public. Matching uploads earn nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

from dagster import ConfigurableResource

from onett_resources.extraction.worker import ExtractionWorker
from onett_resources.formats import ReadResult, UnsupportedFormat, format_of, read_stream


class ReferenceFolder(ConfigurableResource):
    """A folder of reference text in the upload formats."""

    path: str

    def files(self) -> list[Path]:
        root = Path(self.path)
        if not root.is_dir():
            return []
        return sorted(
            p for p in root.rglob("*")
            if p.is_file() and not p.is_symlink() and not p.name.startswith(".") and format_of(p.name)
        )

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for path in self.files():
            stat = path.stat()
            digest.update(f"{path.relative_to(self.path).as_posix()}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
        return digest.hexdigest()

    def read(self) -> ReadResult:
        """Every file's documents; documents (PDF, HWP, ...) are read into text as uploads are."""
        result = ReadResult()
        with ExtractionWorker() as documents:
            for path in self.files():
                name = path.relative_to(self.path).as_posix()
                try:
                    with open(path, "rb") as handle:
                        read_stream(name, handle, result, documents=documents, path=path)
                except UnsupportedFormat as exc:
                    result.skip(name, str(exc))
        return result
