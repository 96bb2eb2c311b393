"""Immutable copies of every accepted upload: nothing a contributor sent is ever lost, even if they later withdraw
or overwrite the file in the landing zone.

Each copy is sealed (encrypted and authenticated, `sealed_files`) with a key of its contributor (`key_store`) and kept
per contributor at `<path>/<quoted contributor id>/<sha[:2]>/<sha256>.sealed`: destroying the key erases every copy
of that contributor's uploads at once, backups of the archive included, and a single upload is erased by deleting its
one copy. Copies made before sealing (`<path>/<sha[:2]>/<sha256>`, plaintext, shared) are sealed by `migrate_legacy`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import urllib.parse
from pathlib import Path
from typing import Iterable, Iterator

from dagster import ConfigurableResource

from onett_resources.durable import fsync
from onett_resources.key_store import KeyStore
from onett_resources.sealed_files import seal, unseal

SHA256 = re.compile(r"[0-9a-f]{64}")
SUFFIX = ".sealed"


class ArchiveError(RuntimeError):
    """An archived upload cannot be read or migrated; the message says which and why."""


class UploadArchive(ConfigurableResource):
    path: str
    key_file: str

    @property
    def key_store(self) -> KeyStore:
        return KeyStore(self.key_file)

    def folder(self, contributor_id: str) -> Path:
        name = urllib.parse.quote(contributor_id, safe="")
        if name in ("", ".", ".."):
            raise ValueError(f"not a contributor id: {contributor_id!r}")
        return Path(self.path, name)

    def location(self, contributor_id: str, sha256: str) -> Path:
        return self.folder(contributor_id) / _checked(sha256)[:2] / f"{sha256}{SUFFIX}"

    def has_legacy(self) -> bool:
        """Whether plaintext copies from before encryption are left (`<path>/<2 hex>/<sha256>`)."""
        root = Path(self.path)
        return root.is_dir() and any(
            len(d.name) == 2 and any(SHA256.fullmatch(f.name) for f in d.iterdir() if f.is_file())
            for d in root.iterdir() if d.is_dir() and all(c in "0123456789abcdef" for c in d.name))

    def legacy_location(self, sha256: str) -> Path:
        return Path(self.path, _checked(sha256)[:2], sha256)

    def keep(self, contributor_id: str, source: Path, sha256: str) -> bool:
        """Seal `source` once, read-only, for its contributor; False if it changed while being sealed (its bytes no
        longer hash to `sha256`). A copy left unreadable by a destroyed key is sealed anew; a legacy plaintext copy
        is left to `migrate_legacy`."""
        target = self.location(contributor_id, sha256)
        if target.exists() and self.key_store.has(contributor_id):
            return True
        key = self.key_store.key_for(contributor_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{sha256}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        tmp = Path(name)
        try:
            if seal(Path(source), tmp, key) != sha256:
                tmp.unlink()
                return False
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync(target.parent)
        if self.key_store.key_for(contributor_id, create=False) != key:  # the contributor was erased meanwhile
            target.unlink(missing_ok=True)
            return False
        return True

    def read(self, contributor_id: str, sha256: str) -> Iterator[bytes]:
        """The plaintext of an archived upload, chunk by chunk, authenticated (for restores and audits)."""
        target = self.location(contributor_id, sha256)
        if not target.exists():
            waiting = self.legacy_location(sha256).exists()
            raise ArchiveError(f"{contributor_id}/{sha256}: not in the archive: erased or never kept"
                               + (" (a legacy plaintext copy waits for migrate_legacy)" if waiting else ""))
        key = self.key_store.key_for(contributor_id, create=False)
        if key is None:
            raise ArchiveError(f"{contributor_id}/{sha256}: the contributor's key is destroyed (erased): unreadable")
        return unseal(target, key)

    def erase(self, contributor_id: str, sha256: str) -> bool:
        """Delete the contributor's copy of one upload, and any legacy plaintext copy of the same bytes; True if a
        file was deleted."""
        removed = False
        for path in (self.location(contributor_id, sha256), self.legacy_location(sha256)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed = True
                fsync(path.parent)
                with contextlib.suppress(OSError):
                    path.parent.rmdir()
        return removed

    def erase_contributor(self, contributor_id: str) -> int:
        """Destroy the contributor's key (every copy, wherever it is, is unreadable from then on), then delete their
        folder; the number of files deleted. A legacy shard folder sharing the folder's name (contributor "ab",
        hashes "ab...") keeps its plaintext files: they are other uploads."""
        self.key_store.destroy(contributor_id)
        folder = self.folder(contributor_id)
        if not folder.is_dir():
            return 0
        removed = 0
        for entry in list(folder.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                removed += sum(len(files) for _, _, files in os.walk(entry))
                shutil.rmtree(entry)
            elif not (SHA256.fullmatch(entry.name) and entry.name.startswith(folder.name)):
                entry.unlink()
                removed += 1
        with contextlib.suppress(OSError):
            folder.rmdir()
        fsync(Path(self.path))
        return removed

    def migrate_legacy(self, pairs: Iterable[tuple[str, str]]) -> int:
        """Seal each legacy plaintext copy for every (contributor id, sha256) given, then delete the plaintext copies
        that were sealed; the number of copies sealed. Pass every contributor of a hash: once sealed, its plaintext
        copy is gone. Running it again seals nothing."""
        sealed, done, problems = 0, set(), {}
        for contributor_id, sha256 in pairs:
            legacy = self.legacy_location(sha256)
            if not legacy.is_file():
                continue
            if not self.location(contributor_id, sha256).exists():
                if not self.keep(contributor_id, legacy, sha256):
                    problems[legacy] = f"{legacy}: its bytes do not hash to its name; left as it is"
                    continue
                sealed += 1
            done.add(legacy)
        for legacy in done - problems.keys():
            legacy.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                legacy.parent.rmdir()
        if problems:
            raise ArchiveError("; ".join(problems.values()))
        return sealed


def _checked(sha256: str) -> str:
    if not SHA256.fullmatch(sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return sha256
