"""The landing zone: `<contributor_id>/<any file name>` folders that contributors (or the portal) write into."""

from __future__ import annotations

import os
import unicodedata
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

from dagster import ConfigurableResource

from onett_domain.terms import SIDECAR_SUFFIX
from onett_domain.uploads import CONTRIBUTOR_ID_RULE, Upload, valid_contributor_id
from onett_resources.durable import file_sha256
from onett_resources.extraction import ExtractionLimits
from onett_resources.extraction.worker import ExtractionWorker
from onett_resources.formats import Limits, ReadResult, Record, StorageFailed, UnsupportedFormat, read_stream

# Names that are never uploads: hidden files and the temporary names of uploads still being written.
_IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp")


def distinct_names(uploads: list[Upload]) -> list[Upload]:
    """A file's name is its NFC form (macOS writes names decomposed, the portal composed). Two files whose names
    differ only in normalization are two uploads, never one: the second (in byte order of the name) is known as
    `name (2).ext`, or the next number free."""
    taken = {u.file for u in uploads}
    seen: set[str] = set()
    out = []
    for upload in sorted(uploads, key=lambda u: str(u.path).encode("utf-8", "surrogateescape")):
        if upload.file in seen:
            stem, dot, ext = upload.file.rpartition(".")
            stem, ext = (stem, dot + ext) if stem and "/" not in ext else (upload.file, "")
            n = 2
            while f"{stem} ({n}){ext}" in taken:
                n += 1
            upload = replace(upload, file=f"{stem} ({n}){ext}")
            taken.add(upload.file)
        seen.add(upload.file)
        out.append(upload)
    return sorted(out, key=lambda u: u.file)


class LandingZone(ConfigurableResource):
    """Contributors' upload folders on the local disk (or a shared mount when scaled out)."""

    path: str
    # A file is read only once its size and modification time have been still this long: never half a file.
    settle_seconds: float = 2.0
    max_document_mb: int = 16
    max_unpacked_mb: int = 4096
    max_compression_ratio: int = 200
    # Documents (PDF, HWP, DOCX, ...) are read in a child process, each within these limits.
    extraction_seconds: int = 300
    extraction_memory_mb: int = 2048
    split_sections: bool = False  # a document's chapters/sections become documents of their own

    @property
    def limits(self) -> Limits:
        return Limits(self.max_document_mb << 20, self.max_unpacked_mb << 20, self.max_compression_ratio,
                      self.split_sections)

    def document_reader(self) -> ExtractionWorker:
        """The worker process that reads documents for `read` (a context manager: it stops the process)."""
        return ExtractionWorker(self.extraction_seconds, self.extraction_memory_mb << 20,
                                ExtractionLimits(max_compression_ratio=self.max_compression_ratio))

    @property
    def root(self) -> Path:
        return Path(self.path)

    def snapshot(self, contributor_id: str | None = None) -> list[Upload]:
        """Every upload now in the landing zone (or in one contributor's folder); symlinks are never followed."""
        if not self.root.is_dir():
            return []
        by_contributor: dict[str, list[Upload]] = {}
        for folder in sorted(os.scandir(self.root), key=lambda e: e.name):
            if not folder.is_dir(follow_symlinks=False) or folder.name.startswith("."):
                continue
            folder_id = unicodedata.normalize("NFC", folder.name)  # two folders of one NFC name: one contributor
            if contributor_id is not None and folder_id != contributor_id:
                continue
            by_contributor.setdefault(folder_id, []).extend(self._folder_uploads(folder, folder_id))
        return [u for c in sorted(by_contributor) for u in distinct_names(by_contributor[c])]

    @staticmethod
    def _folder_uploads(folder: os.DirEntry, folder_id: str) -> list[Upload]:
        files: list[Upload] = []
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

    def folder_problem(self, contributor_id: str) -> str | None:
        """Why a contributor's folder cannot be read as their uploads (None when it is a real folder). A folder
        that became a symbolic link or disappeared is an accident to report, never a withdrawal of every file: a
        contributor withdraws by removing files from their folder."""
        if not valid_contributor_id(contributor_id):
            return f"{contributor_id!r} is no longer a valid contributor id ({CONTRIBUTOR_ID_RULE})"
        if not self.root.is_dir():
            return f"the landing zone {self.root} is missing"
        entry = next((e for e in os.scandir(self.root) if unicodedata.normalize("NFC", e.name) == contributor_id),
                     None)
        if entry is None:
            return f"the landing folder of {contributor_id} has disappeared"
        if entry.is_symlink():
            return f"the landing folder of {contributor_id} is a symbolic link (links are never followed)"
        if not entry.is_dir(follow_symlinks=False):
            return f"the landing folder of {contributor_id} is not a folder"
        if not os.access(entry.path, os.R_OK | os.X_OK):
            return f"the landing folder of {contributor_id} cannot be read"
        return None

    def folder_problems(self, contributor_ids: set[str]) -> dict[str, str]:
        return {c: problem for c in sorted(contributor_ids) if (problem := self.folder_problem(c)) is not None}

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
             batch_chars: int = 32 << 20,
             documents: ExtractionWorker | None = None) -> tuple[ReadResult, str | None, str]:
        """Read one file: its records, a file-level error (or None), and the sha256 of its bytes.

        Streams the file twice (hash, then parse) rather than holding it in memory; with a `sink`, records are
        handed over in batches as they are read. A file that changes while it is read is refused, so half a
        file is never counted (the next run reads it whole): the result then holds no documents, and whatever
        went to the sink must be discarded. A sink that fails raises `StorageFailed`: never a verdict on the file."""
        result = ReadResult(sink=sink, batch_bytes=batch_chars)
        if entry.is_symlink:
            return result, f"{entry.file}: a symbolic link; links are never followed (upload the file itself)", ""
        try:
            sha256 = sha256 or file_sha256(entry.path)
            with open(entry.path, "rb") as handle:
                read_stream(entry.file, handle, result, self.limits, documents=documents, path=entry.path)
        except StorageFailed as exc:  # the platform's storage, not the file: the run stops, the upload is read again
            raise StorageFailed(f"{entry.file}: what was read could not be stored ({exc}); the upload is kept and "
                             "read again when the run is retried") from exc.__cause__
        except UnsupportedFormat as exc:
            result.flush()
            return result, str(exc), sha256 or ""
        except FileNotFoundError:
            return ReadResult(), f"{entry.file}: removed while it was being read", ""
        except MemoryError:  # the platform's memory, not the file: the run stops, the upload is read again
            raise
        except Exception as exc:  # a corrupt archive or stream: report it, keep what was read before it
            result.flush()
            return result, f"{entry.file}: could not be read completely ({exc.__class__.__name__}: {exc})", sha256 or ""
        result.flush()
        stat = entry.path.stat()
        if (stat.st_size, stat.st_mtime_ns) != (entry.size, entry.mtime_ns):
            return ReadResult(), f"{entry.file}: changed while it was being read; it is read again once it is complete", sha256
        return result, None, sha256
