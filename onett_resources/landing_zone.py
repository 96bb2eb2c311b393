"""The landing zone: `<contributor_id>/<any file name>` folders that contributors (or the portal) write into."""

from __future__ import annotations

import os
import unicodedata
from datetime import date
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

from dagster import ConfigurableResource

from onett_domain.terms import SIDECAR_SUFFIX
from onett_domain.uploads import Upload
from onett_resources.durable import file_sha256
from onett_resources.formats import Limits, ReadResult, Record, UnsupportedFormat, read_stream

# Names that are never uploads: hidden files and the temporary names of uploads still being written.
_IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp")


class LandingZone(ConfigurableResource):
    """Contributors' upload folders on the local disk (or a shared mount when scaled out)."""

    path: str
    # A file is read only once its size and modification time have been still this long: never half a file.
    settle_seconds: float = 2.0
    max_document_mb: int = 16
    max_unpacked_mb: int = 4096
    max_compression_ratio: int = 200

    @property
    def limits(self) -> Limits:
        return Limits(self.max_document_mb << 20, self.max_unpacked_mb << 20, self.max_compression_ratio)

    @property
    def root(self) -> Path:
        return Path(self.path)

    def snapshot(self, contributor_id: str | None = None) -> list[Upload]:
        """Every upload now in the landing zone (or in one contributor's folder); symlinks are never followed."""
        files: list[Upload] = []
        if not self.root.is_dir():
            return files
        for folder in sorted(os.scandir(self.root), key=lambda e: e.name):
            if not folder.is_dir(follow_symlinks=False) or folder.name.startswith("."):
                continue
            folder_id = unicodedata.normalize("NFC", folder.name)
            if contributor_id is not None and folder_id != contributor_id:
                continue
            for dirpath, dirnames, filenames in os.walk(folder.path, followlinks=False):
                links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
                dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in links)
                names = set(filenames)
                for name in sorted(filenames + links):
                    if name.startswith(".") or name.lower().endswith(_IGNORED_SUFFIXES):
                        continue
                    if name.endswith(SIDECAR_SUFFIX) and name.removesuffix(SIDECAR_SUFFIX) in names:
                        continue  # the terms of the file beside it, not an upload
                    full = Path(dirpath, name)
                    stat = full.lstat()
                    link = full.is_symlink()
                    if not link and not full.is_file():
                        continue
                    rel = unicodedata.normalize("NFC", full.relative_to(folder.path).as_posix())
                    stamp = ""
                    if name + SIDECAR_SUFFIX in names:
                        sidecar = Path(dirpath, name + SIDECAR_SUFFIX).lstat()
                        stamp = f"{sidecar.st_size}:{sidecar.st_mtime_ns}"
                    files.append(Upload(folder_id, rel, full, stat.st_size, stat.st_mtime_ns, link, stamp))
        return files

    def uploads_for(self, contributor_id: str, period: date, tz: ZoneInfo, first_period: date) -> list[Upload]:
        """The contributor's uploads of one month: that month's submission."""
        return [f for f in self.snapshot(contributor_id) if f.period(tz, first_period) == period]

    def sidecar(self, entry: Upload) -> tuple[str, str] | None:
        """(name, text) of the upload's terms sidecar, if it has one; an unreadable one is returned as text that
        fails to parse, so the upload waits with the reason."""
        if not entry.terms_stamp:
            return None
        name = entry.file + SIDECAR_SUFFIX
        path = entry.path.with_name(entry.path.name + SIDECAR_SUFFIX)
        try:
            if path.is_symlink() or path.stat().st_size > 64 << 10:
                return name, "<a symbolic link, or larger than 64 KiB>"
            return name, path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return name, f"<unreadable: {exc.__class__.__name__}>"

    def read(self, entry: Upload, sha256: str | None = None,
             sink: Callable[[list[Record]], None] | None = None,
             batch_chars: int = 32 << 20) -> tuple[ReadResult, str | None, str]:
        """Read one file: its records, a file-level error (or None), and the sha256 of its bytes.

        Streams the file twice (hash, then parse) rather than holding it in memory; with a `sink`, records are
        handed over in batches as they are read. A file that changes while it is read is refused, so half a
        file is never counted (the next run reads it whole): the result then holds no documents, and whatever
        went to the sink must be discarded."""
        result = ReadResult(sink=sink, batch_bytes=batch_chars)
        if entry.is_symlink:
            return result, f"{entry.file}: a symbolic link; links are never followed (upload the file itself)", ""
        try:
            sha256 = sha256 or file_sha256(entry.path)
            with open(entry.path, "rb") as handle:
                read_stream(entry.file, handle, result, self.limits)
        except UnsupportedFormat as exc:
            result.flush()
            return result, str(exc), sha256 or ""
        except FileNotFoundError:
            return ReadResult(), f"{entry.file}: removed while it was being read", ""
        except Exception as exc:  # a corrupt archive or stream: report it, keep what was read before it
            result.flush()
            return result, f"{entry.file}: could not be read completely ({exc.__class__.__name__}: {exc})", sha256 or ""
        result.flush()
        stat = entry.path.stat()
        if (stat.st_size, stat.st_mtime_ns) != (entry.size, entry.mtime_ns):
            return ReadResult(), f"{entry.file}: changed while it was being read; it is read again once it is complete", sha256
        return result, None, sha256
