"""Immutable copies of every accepted upload, by content hash: nothing a contributor sent is ever lost,
even if they later withdraw or overwrite the file in the landing zone."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dagster import ConfigurableResource

from onett_resources.landing_zone import file_sha256


class UploadArchive(ConfigurableResource):
    path: str

    def location(self, sha256: str) -> Path:
        return Path(self.path, sha256[:2], sha256)

    def keep(self, source: Path, sha256: str) -> bool:
        """Copy `source` once, read-only, under its hash; False if it changed while being copied."""
        target = self.location(sha256)
        if target.exists():
            return True
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{sha256}.{os.getpid()}.tmp")
        shutil.copyfile(source, tmp)
        if file_sha256(tmp) != sha256:
            tmp.unlink()
            return False
        os.chmod(tmp, 0o444)
        os.replace(tmp, target)
        return True
