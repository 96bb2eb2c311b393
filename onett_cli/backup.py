"""`onett backup DIR [--keys KEYDIR]` and `onett restore DIR [--keys KEYDIR] [--force]`.

A backup is taken while the platform runs (onett_resources.backups says how it stays consistent). A restore checks
every file against the manifest before it writes anything, and never brings erased text back: the erasures recorded
in the target's current consent register and in the backup's own are applied to what it writes (erased uploads and
their archived copies are not written at all), and the pipeline then finishes them again (Parquet parts, releases,
the near-duplicate index), exactly as `onett erase` does."""

from __future__ import annotations

import sqlite3
from importlib import metadata
from pathlib import Path

import duckdb

from onett_cli.session import say
from onett_portal.config import load_portal_settings
from onett_resources import backups
from onett_resources.backups import BackupError, Part
from onett_resources.settings import load_settings


def _version() -> str:
    try:
        return metadata.version("onett")
    except metadata.PackageNotFoundError:
        return "unknown"


def _platform() -> tuple:
    from onett_assets.definitions import build_resources

    settings = load_settings()
    parts = backups.platform_parts(settings, load_portal_settings().database)
    return settings, parts, backups.key_parts(settings), build_resources(settings)["warehouse"]


def cmd_backup(args) -> int:
    settings, parts, keys, warehouse = _platform()
    root = Path(args.dir).resolve()
    key_root = Path(args.keys).resolve() if args.keys else None
    try:
        backups.check_destination(root, parts, keys)
        if key_root is not None:
            backups.check_destination(key_root, parts, keys)
            if backups.inside(key_root, root) or backups.inside(root, key_root):
                raise BackupError("--keys must name a folder apart from the backup: the keys unlock the archive "
                                  "it holds, and erasing a contributor destroys their key")
    except BackupError as exc:
        say(f"onett backup: {exc}")
        return 1
    for folder in (root, key_root):
        if folder is not None:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            folder.chmod(0o700)
    say(f"backing up {settings.home} into {root}")
    manifest = backups.take_backup(parts, keys, warehouse, root, key_root, _version(), say)
    total = sum(f["size"] for f in manifest["files"])
    say(f"backup {manifest['backup_id']}: {len(manifest['files'])} file(s), {total / (1 << 20):,.1f} MB, "
        f"manifest {root / backups.MANIFEST}")
    if key_root is None:
        say("keys NOT included (no --keys KEYDIR): the encrypted upload archive in this backup cannot be read back "
            f"without the live key file {settings.key_file}")
    return 0


def cmd_restore(args) -> int:
    try:
        return _restore(args)
    except BackupError as exc:
        say(f"onett restore: {exc}")
        return 1


def _check(args) -> tuple[dict, dict | None]:
    """Both manifests read and every file checked before anything is written."""
    root = Path(args.dir).resolve()
    manifest = backups.read_manifest(root)
    problems = backups.verify(root, manifest)
    key_manifest = None
    if args.keys:
        key_root = Path(args.keys).resolve()
        key_manifest = backups.read_manifest(key_root)
        problems += backups.verify(key_root, key_manifest)
        if key_manifest.get("backup_id") != manifest.get("backup_id"):
            problems.append(f"{key_root}: keys of backup {key_manifest.get('backup_id')}, not of "
                            f"{manifest.get('backup_id')}")
    if problems:
        raise BackupError("the backup does not match its manifest; nothing was restored:\n  " + "\n  ".join(problems))
    return manifest, key_manifest


def _restore(args) -> int:
    manifest, key_manifest = _check(args)
    root = Path(args.dir).resolve()
    settings, parts, keys, _ = _platform()
    by_name = {p.name: p for p in parts + keys}
    for folder in filter(None, (root, Path(args.keys).resolve() if args.keys else None)):
        for part in parts + keys:
            if backups.inside(folder, part.path):
                raise BackupError(f"{folder} is inside {part.path} ({part.name}), which a restore replaces: move the "
                                  "backup elsewhere first")
    unknown = sorted({f["part"] for f in manifest["files"]} - by_name.keys())
    if unknown:
        raise BackupError(f"the backup holds parts this version does not know: {', '.join(unknown)}")
    if settings.warehouse.exists():
        try:
            duckdb.connect(str(settings.warehouse)).close()
        except duckdb.IOException as exc:
            raise BackupError(f"{settings.warehouse} is in use ({exc}): stop the platform (daemon, webserver, "
                              "portal, onett commands) before restoring") from None
    targets = parts + (keys if key_manifest else [])
    skip = backups.excluded(parts, keys)
    occupied = [p for p in targets if backups.holds_data(p, skip)]
    if occupied and not args.force:
        raise BackupError("refusing to overwrite what is there (--force replaces it): "
                          + ", ".join(f"{p.name} ({p.path})" for p in occupied))

    # The erasures to honour: the target's register as it is now, and the backup's own.
    current = backups.registered_erasures(settings.consent)
    consent_entry = next((f for f in manifest["files"] if f["part"] == "consent"), None)
    own = backups.registered_erasures(root / "consent" / consent_entry["path"]) if consent_entry else []
    erasures = current + own
    erased = backups.erased_shas(erasures)
    landing_shas = {(f["part"], f["path"]): f["sha256"] for f in manifest["files"] if f["part"] == "landing"}

    say(f"restoring backup {manifest['backup_id']} (onett {manifest.get('version')}, taken "
        f"{manifest.get('started_at', '?')[:19]} UTC) into {settings.home}")
    for part in targets:
        backups.clear(part, skip)
    written, refusals = 0, []
    for entry in manifest["files"]:
        part = by_name[entry["part"]]
        target = backups.restore_target(part, manifest["parts"].get(part.name, {}), entry["path"])
        why = backups.refused(entry, erased, landing_shas)
        if why:
            refusals.append(why)
            if part.name == "landing":  # the folder stays: a contributor folder that vanishes is an alert
                target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            continue
        backups.put(root, entry, target)
        written += 1
    for why in refusals:
        say(f"not restored: {why}")
    say(f"{written} file(s) restored" + (f", {len(refusals)} refused (erased content)" if refusals else ""))

    pending = _erasures_again(settings, erasures)
    _keys(args, settings, by_name, key_manifest, erased)
    if pending:
        return _finish_erasures(pending)
    say("restored")
    return 0


def _erasures_again(settings, erasures: list[dict]) -> int:
    """Every known erasure request in the restored register, pending again unless the restored warehouse has it
    erased already."""
    from onett_resources.consent import ConsentRegistry

    ConsentRegistry(path=str(settings.consent)).erasures()  # the register exists with its schema
    erased_uploads: set[tuple[str, str, str]] = set()
    if settings.warehouse.exists():
        conn = duckdb.connect(str(settings.warehouse), read_only=True)
        try:
            erased_uploads = set(conn.execute(
                "SELECT contributor_id, file, sha256 FROM uploads WHERE status = 'erased'").fetchall())
        except duckdb.CatalogException:
            pass
        finally:
            conn.close()
    try:
        return backups.merge_erasures(settings.consent, erasures, erased_uploads)
    except sqlite3.Error as exc:
        raise BackupError(f"{settings.consent}: the erasure requests could not be recorded again ({exc})") from None


def _keys(args, settings, by_name: dict[str, Part], key_manifest: dict | None, erased: dict[str, set[str]]) -> None:
    from onett_resources.upload_archive import UploadArchive

    archive = UploadArchive(path=str(settings.storage_dir / "uploads"), key_file=str(settings.key_file))
    if key_manifest is None:
        if not settings.key_file.exists() and any(Path(archive.path).rglob("*.sealed")):
            say(f"keys not restored (no --keys KEYDIR): the archive cannot be read back without the live key file "
                f"{settings.key_file}")
        return
    key_root = Path(args.keys).resolve()
    # A contributor with an erasure and nothing left in the archive gets no key back: it would only make older
    # copies of the archive readable again.
    gone = {c for c in erased if not any(archive.folder(c).rglob("*.sealed"))}
    for entry in key_manifest["files"]:
        part = by_name[entry["part"]]
        target = backups.restore_target(part, key_manifest["parts"].get(part.name, {}), entry["path"])
        if part.name == "upload_keys":
            for contributor in backups.filtered_keys(key_root / entry["part"] / entry["path"], target, gone):
                say(f"not restored: the archive key of {contributor!r} (erased per the consent register)")
        else:
            backups.put(key_root, entry, target)
    say(f"keys restored from {key_root}")


def _finish_erasures(pending: int) -> int:
    """The restored submissions processed without the erased files, then the erasures finished, as `onett erase`
    does."""
    from onett_assets.planning import plan_ingest
    from onett_cli.runner import run_partitions
    from onett_cli.session import Session, failure

    say(f"{pending} erasure(s) to apply again: processing the submissions without the erased files")
    s = Session()
    contributors = {r.contributor_id for r in s.resources["consent"].erasures(pending=True)}
    plan = plan_ingest(s.instance, s.resources["landing_zone"], s.policy, s.resources["consent"])
    todo = [p for p in plan.pending if p.contributor_id in contributors]
    outcomes = run_partitions(s, todo, say) if todo else []
    if any(not o.ok for o in outcomes):
        say("processing FAILED: the erasures finish with the next `onett ingest`")
        return 1
    result = s.run("finish_erasures")
    if not result.success:
        say(f"erasure: FAILED {failure(result)}")
        return 1
    left = s.resources["consent"].erasures(pending=True)
    if left:
        say(f"{len(left)} erasure(s) still pending: they finish with the next `onett ingest`")
        return 1
    say("restored; every recorded erasure is applied")
    return 0
