"""Per-contributor keys of the encrypted upload archive, in one JSON file kept apart from the archive.

Each contributor's uploads are sealed with their own key, so destroying that one key erases every copy of their
uploads at once, backups of the archive included (crypto-shredding): the key file must therefore never be backed up
together with the archive. The portal and the pipeline processes may create keys at the same moment, so every
change is made under an exclusive `flock` on a lock file beside the key file and written atomically; a key file
that cannot be read is an error, never replaced, since replacing it would destroy every contributor's key."""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

from onett_resources.durable import fsync

KEY_BYTES = 32
VERSION = 1


class KeyStoreError(RuntimeError):
    """The key file is unreadable or malformed; the message names it. It is left untouched for a restore."""


class KeyStore:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def key_for(self, contributor_id: str, create: bool = True) -> bytes | None:
        """The contributor's key; a new random one is stored first if they have none and `create` is set."""
        _check(contributor_id)
        key = self._load().get(contributor_id)
        if key is not None or not create:
            return key
        with self._locked():
            keys = self._load()
            if contributor_id not in keys:
                keys[contributor_id] = os.urandom(KEY_BYTES)
                self._write(keys)
            return keys[contributor_id]

    def destroy(self, contributor_id: str) -> bool:
        """Forget the contributor's key: everything sealed with it becomes unreadable. False if there was none."""
        _check(contributor_id)
        with self._locked():
            keys = self._load()
            if keys.pop(contributor_id, None) is None:
                return False
            self._write(keys)
            return True

    def has(self, contributor_id: str) -> bool:
        _check(contributor_id)
        return contributor_id in self._load()

    def _load(self) -> dict[str, bytes]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as error:
            raise self._corrupt(str(error)) from error
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise self._corrupt(f"not JSON: {error}") from error
        if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("keys"), dict):
            raise self._corrupt(f'expected {{"version": {VERSION}, "keys": {{...}}}}')
        keys = {}
        for contributor_id, encoded in data["keys"].items():
            try:
                key = base64.b64decode(encoded, validate=True)
            except (binascii.Error, TypeError, ValueError) as error:
                raise self._corrupt(f"the key of {contributor_id!r} is not base64") from error
            if len(key) != KEY_BYTES:
                raise self._corrupt(f"the key of {contributor_id!r} has {len(key)} bytes, not {KEY_BYTES}")
            keys[contributor_id] = key
        return keys

    def _corrupt(self, detail: str) -> KeyStoreError:
        return KeyStoreError(f"{self.path}: the upload key file is corrupt ({detail}). It is left as it is: restore "
                             "it from its backup, since replacing it would make every sealed upload unreadable")

    def _write(self, keys: dict[str, bytes]) -> None:
        data = {"version": VERSION, "keys": {c: base64.b64encode(k).decode("ascii") for c, k in sorted(keys.items())}}
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)  # 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        fsync(self.path.parent)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        folder = self.path.parent
        if not folder.is_dir():
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(folder, 0o700)  # whatever the umask
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _check(contributor_id: str) -> None:
    if not isinstance(contributor_id, str) or not contributor_id:
        raise ValueError(f"a contributor id must be a non-empty string, not {contributor_id!r}")
