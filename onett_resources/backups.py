"""Consistent copies of a running platform, and putting one back.

A backup is a folder: one subfolder per part of the platform (the warehouse, each SQLite register, the Dagster
instance, the landing zone and the other folders) and `manifest.json`, written last, naming every file with its size
and sha256. Live databases are never copied raw: the DuckDB warehouse is copied while this process holds its single
writer connection right after a CHECKPOINT, every SQLite file through SQLite's online backup API. The Dagster
instance is copied first: whatever a run finished after that is redone by the next ingest, because the restored
instance does not know of it, so the warehouse and the Parquet parts copied later never get ahead of what the
instance remembers. Keys go to a folder of their own, never beside the archive they unlock (crypto-shredding only
works if the key is destroyed everywhere it is kept).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import time
import unicodedata
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import duckdb
import yaml

from onett_domain.credit import bucket_index
from onett_domain.terms import SIDECAR_SUFFIX
from onett_resources.durable import file_sha256, fsync
from onett_resources.warehouse import STORAGE_SETTINGS, Warehouse

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_HEADER = b"SQLite format 3\x00"
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")
WRITER_WAIT_SECONDS = 1800  # how long a backup waits for a run to let go of the warehouse
Progress = Callable[[str], None]


class BackupError(RuntimeError):
    """A backup that cannot be taken, or one that cannot be restored; the message names the file or part."""


@dataclass(frozen=True)
class Part:
    """One thing the platform keeps: `kind` says how it is copied (duckdb, sqlite, instance, folder, key)."""

    name: str
    kind: str
    path: Path


def platform_parts(settings, portal_db: Path) -> list[Part]:
    """Everything a platform built from `settings` keeps, in the order a backup copies it (the instance first)."""
    parts = [Part("instance", "instance", settings.home), Part("consent", "sqlite", settings.consent),
             Part("payments", "sqlite", settings.payments), Part("portal", "sqlite", portal_db),
             Part("warehouse", "duckdb", settings.warehouse)]
    parts += [Part(name, "folder", path) for name, path in (
        ("storage", settings.storage_dir), ("releases", settings.release_dir), ("landing", settings.landing_dir),
        ("revenue", settings.revenue_dir), ("reference", settings.reference_dir), ("usage", settings.usage_dir),
        ("bank_statements", settings.bank_statement_dir))]
    return parts


def key_parts(settings) -> list[Part]:
    return [Part("upload_keys", "key", settings.key_file), Part("payee_key", "key", settings.payee_key_file)]


def inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def excluded(parts: list[Part], keys: list[Part]) -> set[Path]:
    """Paths a folder walk leaves to another part, plus what is never copied: locks, SQLite journals, the
    warehouse's spill folder and write-ahead log (the warehouse part copies that one itself)."""
    skip = {p.path for p in parts}
    for part in keys:
        skip |= {part.path, part.path.with_name(part.path.name + ".lock")}
    for part in parts:
        if part.kind == "sqlite":
            skip |= {part.path.with_name(part.path.name + s) for s in SQLITE_SIDECARS}
        if part.kind == "duckdb":
            skip |= {part.path.with_name(part.path.name + s) for s in (".wal", ".tmp")}
    return skip


def members(part: Part, skip: set[Path], journals: bool = False) -> Iterator[Path]:
    """The files of a folder part, sorted, never following a symbolic link, leaving out what `skip` names (and, for
    the instance, lock files and SQLite journals unless `journals`)."""
    if not part.path.is_dir():
        return
    for folder, dirs, files in os.walk(part.path):
        base = Path(folder)
        dirs[:] = sorted(d for d in dirs if base / d not in skip and not (base / d).is_symlink())
        for name in sorted(files):
            path = base / name
            if path in skip or path.is_symlink() or not path.is_file():
                continue
            if part.kind == "instance" and (name.endswith(".lock") or (name.endswith(SQLITE_SIDECARS)
                                                                        and not journals)):
                continue
            yield path


def is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(16) == SQLITE_HEADER
    except OSError:
        return False


def snapshot_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite file, through SQLite's online backup API (a raw copy can catch a page
    half-written or miss what its write-ahead log holds)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=60)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def snapshot_warehouse(warehouse: Warehouse, target_dir: Path, say: Progress) -> list[Path]:
    """The warehouse copied while this process holds its single writer connection, right after a CHECKPOINT: no run
    can write while the file is read, and the file alone holds every committed transaction. A run writing at the
    time is waited for. The near-duplicate index's bucket files it names are copied under the same hold (into
    `<name>.near-index/`, as beside the warehouse)."""
    source = Path(warehouse.database)
    deadline, waited = time.monotonic() + WRITER_WAIT_SECONDS, False
    while True:
        try:
            conn = duckdb.connect(str(source), config=dict(warehouse.connection_config or {}))
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            if not waited:
                say("warehouse: a run is writing it; waiting for the run to let go of it")
                waited = True
            time.sleep(0.5)
            continue
        try:
            conn.execute(STORAGE_SETTINGS)  # the checkpoint writes what is committed, never rewrites tables
            conn.execute("CHECKPOINT")
            copied = [target_dir / source.name]
            _copy_bytes(source, copied[0])
            wal = source.with_name(source.name + ".wal")
            if wal.exists() and wal.stat().st_size:  # empty after a checkpoint; kept if not, it is replayed
                copied.append(target_dir / wal.name)
                _copy_bytes(wal, copied[-1])
            index = bucket_index.folder_of(source)
            for relative in conn.execute("SELECT file FROM near_index_files ORDER BY file").fetchall():
                copied.append(target_dir / index.name / relative[0])
                for folder in reversed([p for p in copied[-1].parents if inside(p, target_dir) and not p.exists()]):
                    folder.mkdir(mode=0o700)
                _copy_bytes(index / relative[0], copied[-1])
            return copied
        finally:
            conn.close()


def _copy_bytes(source: Path, target: Path) -> None:
    with open(source, "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


class Writer:
    """A backup folder being filled: every file written 0600 in folders 0700, its size and sha256 recorded."""

    def __init__(self, root: Path, say: Progress):
        self.root, self.say = root, say
        self.files: list[dict] = []
        self._since_report = 0

    def folder(self, part: str) -> Path:
        return self.target(part, "-").parent

    def target(self, part: str, relative: str) -> Path:
        path = self.root / part / relative
        for folder in reversed([p for p in path.parents if inside(p, self.root) and not p.exists()]):
            folder.mkdir(mode=0o700)
            os.chmod(folder, 0o700)
        return path

    def record(self, part: str, relative: str, written: Path, source: Path | None) -> None:
        """A file written into the backup; its source's mode and modification time are kept for the restore (an
        upload's modification time is when it was submitted)."""
        os.chmod(written, 0o600)
        info = source.stat() if source is not None else written.stat()
        if source is not None:
            os.utime(written, ns=(info.st_atime_ns, info.st_mtime_ns))
        size = written.stat().st_size
        self.files.append({"part": part, "path": relative, "size": size, "sha256": file_sha256(written),
                           "mode": stat.S_IMODE(info.st_mode), "mtime_ns": info.st_mtime_ns})
        self._since_report += size
        if self._since_report >= 256 << 20:
            self.say(f"  ... {sum(f['size'] for f in self.files) / (1 << 20):,.0f} MB copied")
            self._since_report = 0

    def copy(self, part: str, relative: str, source: Path) -> bool:
        """False if the file went away meanwhile (a run replacing a folder of Parquet parts, a withdrawal)."""
        target = self.target(part, relative)
        try:
            _copy_bytes(source, target)
        except FileNotFoundError:
            target.unlink(missing_ok=True)
            return False
        self.record(part, relative, target, source)
        return True


def take_backup(parts: list[Part], keys: list[Part], warehouse: Warehouse, root: Path, key_root: Path | None,
                version: str, say: Progress) -> dict:
    """Every part copied into `root` (keys into `key_root`, or left out), then the manifests; returns the manifest."""
    started = datetime.now(timezone.utc)
    writer, skip = Writer(root, say), excluded(parts, keys)
    included: dict[str, dict] = {}
    for part in parts:
        before = len(writer.files)
        if part.kind == "instance" and _instance_in_postgres(part.path / "dagster.yaml"):
            note = "the Dagster instance is in PostgreSQL: back that database up with pg_dump"
        else:
            note = ""
        if part.kind == "duckdb":
            if not part.path.exists():
                included[part.name] = {"included": False, "why": f"{part.path} does not exist"}
                continue
            folder = writer.folder(part.name)
            for written in snapshot_warehouse(warehouse, folder, say):
                writer.record(part.name, written.relative_to(folder).as_posix(), written, None)
        elif part.kind == "sqlite":
            if not part.path.exists():
                included[part.name] = {"included": False, "why": f"{part.path} does not exist"}
                continue
            target = writer.target(part.name, part.path.name)
            snapshot_sqlite(part.path, target)
            writer.record(part.name, part.path.name, target, None)
        elif part.kind == "folder" and not part.path.is_dir():
            included[part.name] = {"included": False, "why": f"{part.path} does not exist"}
            continue
        else:
            vanished = 0
            for path in members(part, skip):
                relative = path.relative_to(part.path).as_posix()
                if part.kind == "instance" and is_sqlite(path):
                    target = writer.target(part.name, relative)
                    try:
                        snapshot_sqlite(path, target)
                    except sqlite3.OperationalError:
                        if path.exists():
                            raise
                        target.unlink(missing_ok=True)
                        vanished += 1
                        continue
                    writer.record(part.name, relative, target, None)
                elif not writer.copy(part.name, relative, path):
                    vanished += 1
            if vanished:
                note = (note + "; " if note else "") + f"{vanished} file(s) replaced while copying were left out"
        files = writer.files[before:]
        included[part.name] = {"included": True, "kind": part.kind, "source": str(part.path), "files": len(files),
                               "bytes": sum(f["size"] for f in files), **({"note": note} if note else {})}
        say(f"{part.name}: {len(files)} file(s), {included[part.name]['bytes'] / (1 << 20):,.1f} MB"
            + (f" ({note})" if note else ""))
    backup_id = f"{started:%Y%m%dT%H%M%S}-{os.urandom(4).hex()}"
    manifest = {"format": FORMAT, "platform": "onett", "version": version, "backup_id": backup_id,
                "started_at": started.isoformat(), "finished_at": datetime.now(timezone.utc).isoformat(),
                "parts": included, "files": writer.files}
    if key_root is None:
        manifest["keys"] = {"included": False, "why": "no --keys folder given: the encrypted upload archive cannot "
                            "be read back without the live key file"}
    else:
        key_writer = Writer(key_root, say)
        for part in keys:
            if part.path.exists():
                key_writer.copy(part.name, part.path.name, part.path)
        key_manifest = {"format": FORMAT, "platform": "onett", "version": version, "backup_id": backup_id,
                        "started_at": started.isoformat(), "parts": {
                            p.name: {"included": p.path.exists(), "source": str(p.path)} for p in keys},
                        "files": key_writer.files}
        _write_json(key_root / MANIFEST, key_manifest)
        manifest["keys"] = {"included": True, "why": "written to a separate folder, never beside the archive",
                            "parts": sorted({f["part"] for f in key_writer.files})}
        say(f"keys: {len(key_writer.files)} file(s) written to {key_root}")
    _write_json(root / MANIFEST, manifest)  # last: a backup without its manifest is incomplete
    return manifest


def _instance_in_postgres(config: Path) -> bool:
    """Whether dagster.yaml keeps the instance's storage in PostgreSQL (then there is no SQLite of it to copy)."""
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    if not isinstance(data, dict):
        return False
    storage = {k: data.get(k) for k in ("storage", "run_storage", "event_log_storage", "schedule_storage")}
    return "postgres" in json.dumps(storage, default=str).lower()


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync(path.parent)


def check_destination(root: Path, parts: list[Part], keys: list[Part]) -> None:
    """A backup goes into an empty folder outside everything it copies."""
    root = root.resolve()
    for part in parts + keys:
        if inside(root, part.path):
            raise BackupError(f"{root} is inside {part.path} ({part.name}): a backup would copy itself; choose a "
                              "folder outside the platform's folders")
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise BackupError(f"{root} is not an empty folder: a backup goes into a new or empty one")


# Restoring


def read_manifest(root: Path) -> dict:
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{root / MANIFEST} is missing: not a backup, or one that did not finish") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"{root / MANIFEST} cannot be read: {exc}") from None
    shaped = isinstance(manifest, dict) and isinstance(manifest.get("files"), list)
    if not shaped or manifest.get("format") != FORMAT:
        raise BackupError(f"{root / MANIFEST} is not an onett backup manifest of format {FORMAT}")
    return manifest


def verify(root: Path, manifest: dict) -> list[str]:
    """Every file the manifest names, checked for presence, size and sha256; the problems, each naming its file."""
    problems = []
    for entry in manifest["files"]:
        path = root / entry["part"] / entry["path"]
        if not inside(path.resolve(), root.resolve()) or ".." in Path(entry["path"]).parts:
            problems.append(f"{entry['part']}/{entry['path']}: a path outside the backup")
        elif not path.is_file():
            problems.append(f"{path}: missing")
        elif path.stat().st_size != entry["size"]:
            problems.append(f"{path}: {path.stat().st_size} bytes, the manifest says {entry['size']}")
        elif file_sha256(path) != entry["sha256"]:
            problems.append(f"{path}: its sha256 differs from the manifest's (corrupted)")
    return problems


def holds_data(part: Part, skip: set[Path]) -> bool:
    """Whether restoring over `part` would replace something (the instance's own dagster.yaml does not count)."""
    if part.kind in ("duckdb", "sqlite", "key"):
        return part.path.exists()
    return any(p != part.path / "dagster.yaml" for p in members(part, skip))


def registered_erasures(register: Path) -> list[dict]:
    """The erasure requests of a consent register, read without writing to it (a backup's copy must keep its
    checksum; a missing register has none)."""
    if not register.exists():
        return []
    conn = sqlite3.connect(f"file:{register}?mode=ro", uri=True, timeout=30)
    try:
        conn.row_factory = sqlite3.Row
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'erasure_requests'").fetchone():
            return []
        return [dict(row) for row in conn.execute("SELECT * FROM erasure_requests ORDER BY id")]
    finally:
        conn.close()


def erased_shas(erasures: list[dict]) -> dict[str, set[str]]:
    """contributor id -> the sha256 of every version of their uploads erased."""
    found: dict[str, set[str]] = {}
    for request in erasures:
        if request["sha256"]:
            found.setdefault(unicodedata.normalize("NFC", request["contributor_id"]), set()).add(request["sha256"])
    return found


def refused(entry: dict, erased: dict[str, set[str]], landing_shas: dict[tuple[str, str], str]) -> str | None:
    """Why a file of the backup must not be restored (its content was erased), or None.

    The landing zone: an upload whose bytes were erased, and its terms sidecar. The archive: a sealed copy
    (`uploads/<quoted contributor>/<xx>/<sha256>.sealed`) or a plaintext copy from before sealing of erased bytes."""
    part, relative = entry["part"], entry["path"]
    pieces = relative.split("/")
    if part == "landing" and len(pieces) >= 2:
        contributor = unicodedata.normalize("NFC", pieces[0])
        upload = relative[: -len(SIDECAR_SUFFIX)] if relative.endswith(SIDECAR_SUFFIX) else relative
        sha = landing_shas.get((part, upload))
        if sha in erased.get(contributor, ()):
            return f"landing/{relative}: erased (sha256 {sha[:12]}) per the consent register"
    if part == "storage" and pieces[0] == "uploads":
        if len(pieces) == 4 and pieces[3].endswith(".sealed"):
            contributor = unicodedata.normalize("NFC", urllib.parse.unquote(pieces[1]))
            if pieces[3].removesuffix(".sealed") in erased.get(contributor, ()):
                return f"archived copy {relative}: erased per the consent register"
        if len(pieces) == 3 and any(pieces[2] in shas for shas in erased.values()):
            return f"archived copy {relative}: erased per the consent register"
    return None


def clear(part: Part, skip: set[Path]) -> None:
    """What a restore replaces removed first, so nothing of the replaced state mixes with the backup's (a stale
    SQLite or DuckDB journal would even be replayed onto the restored file)."""
    if part.kind in ("duckdb", "sqlite", "key"):
        sidecars = (".wal",) if part.kind == "duckdb" else SQLITE_SIDECARS if part.kind == "sqlite" else ()
        for path in [part.path] + [part.path.with_name(part.path.name + s) for s in sidecars]:
            path.unlink(missing_ok=True)
        if part.kind == "duckdb":
            shutil.rmtree(bucket_index.folder_of(part.path), ignore_errors=True)
        return
    if part.kind == "folder":
        if part.path.is_dir() and not any(inside(s, part.path) and s != part.path for s in skip):
            shutil.rmtree(part.path)
            return
    for path in list(members(part, skip, journals=True)):  # with Dagster's own journals
        if not (part.kind == "instance" and path.name == "dagster.yaml"):
            path.unlink()


def put(root: Path, entry: dict, target: Path) -> None:
    """One file of the backup written to its place with its mode (owner bits only) and modification time."""
    for folder in reversed([p for p in target.parents if not p.exists()]):
        folder.mkdir(mode=0o700)
    tmp = target.with_name(f".{target.name}.restoring")
    _copy_bytes(root / entry["part"] / entry["path"], tmp)
    os.chmod(tmp, (entry.get("mode", 0o600) & 0o700) or 0o600)
    os.utime(tmp, ns=(entry["mtime_ns"], entry["mtime_ns"]))
    os.replace(tmp, target)


def restore_target(part: Part, manifest_part: dict, relative: str) -> Path:
    """Where a file of a backed-up part goes on this platform (single files: the configured path, and the
    warehouse's write-ahead log beside it)."""
    if part.kind in ("duckdb", "sqlite", "key"):
        source_name = Path(manifest_part.get("source", part.path)).name
        index = bucket_index.folder_of(Path(source_name)).name
        if part.kind == "duckdb" and relative.startswith(index + "/"):
            return bucket_index.folder_of(part.path) / relative[len(index) + 1:]
        suffix = relative[len(source_name):] if relative.startswith(source_name) else ""
        return part.path.with_name(part.path.name + suffix)
    return part.path / relative


def filtered_keys(source: Path, target: Path, refused_contributors: set[str]) -> list[str]:
    """The backed-up key file written without the keys of contributors whose content was erased; who was left out."""
    data = json.loads(source.read_text(encoding="utf-8"))
    left_out = sorted(c for c in data.get("keys", {}) if unicodedata.normalize("NFC", c) in refused_contributors)
    data["keys"] = {c: k for c, k in data.get("keys", {}).items() if c not in left_out}
    for folder in reversed([p for p in target.parents if not p.exists()]):
        folder.mkdir(mode=0o700)
    _write_json(target, data)
    return left_out


def merge_erasures(register: Path, erasures: list[dict], erased_uploads: set[tuple[str, str, str]]) -> int:
    """The restored consent register made to hold every erasure request given (those it lacks are added), each one
    pending again unless the restored warehouse records its upload erased, so the pipeline finishes it once more;
    returns how many are pending."""
    conn = sqlite3.connect(register, timeout=30)
    try:
        with conn:
            known = {(r[0], r[1], r[2], r[3]) for r in conn.execute(
                "SELECT contributor_id, file, sha256, requested_at FROM erasure_requests")}
            for request in erasures:
                key = (request["contributor_id"], request["file"], request["sha256"], request["requested_at"])
                if key not in known:
                    conn.execute("INSERT INTO erasure_requests (contributor_id, file, sha256, requested_by, reason, "
                                 "requested_at) VALUES (?, ?, ?, ?, ?, ?)",
                                 [*key[:3], request["requested_by"], request["reason"], request["requested_at"]])
                    known.add(key)
            pending = 0
            for request_id, contributor, file, sha in conn.execute(
                    "SELECT id, contributor_id, file, sha256 FROM erasure_requests").fetchall():
                if (contributor, file, sha) not in erased_uploads:
                    conn.execute("UPDATE erasure_requests SET done_at = NULL WHERE id = ?", [request_id])
                    pending += 1
        return pending
    finally:
        conn.close()
