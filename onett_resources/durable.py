"""Files that survive a crash and stay private: content hashes, fsync of a file or of a folder (so a rename into it is
kept), and the file mode of everything the platform writes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fsync(path: Path) -> None:
    """Flush a file, or a folder's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def keep_private() -> None:
    """Files this process creates from now on are readable by the platform's user alone (0600, folders 0700):
    the warehouse, the registers and the portal's database hold other people's text, money and password hashes.
    Called where a process starts: the `onett` command, the code location, the portal."""
    os.umask(0o077)


def make_private(path: Path) -> None:
    """An existing file made 0600 if others could read it (created before the platform kept files private)."""
    try:
        if path.exists() and path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    except OSError:
        pass  # not ours to change (a read-only mount): reading it still works
