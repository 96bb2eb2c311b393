"""Taking an erasure request: checked, recorded, and the bytes that can go at once destroyed at once.

The file leaves the landing zone (with its terms sidecar) and its encrypted copy leaves the archive while the request
is taken; the pipeline then processes the submission without it and finishes the erasure (the `erasures` asset):
Parquet parts, releases and the near-duplicate index. The recorded sha256 keeps the same bytes from ever being read
again, say from a restored backup of the landing zone."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from onett_domain.erasure import upload_versions
from onett_domain.terms import SIDECAR_SUFFIX
from onett_resources.consent import ConsentError, ConsentRegistry, ErasureRequest
from onett_resources.durable import file_sha256
from onett_resources.landing_zone import LandingZone
from onett_resources.upload_archive import UploadArchive
from onett_resources.warehouse import Warehouse


@dataclass
class Taken:
    requests: list[ErasureRequest]
    files_removed: list[str]  # from the landing zone
    copies_destroyed: int  # archived copies


def request_erasure(contributor_id: str, file: str, requested_by: str, reason: str, *, registry: ConsentRegistry,
                    landing_zone: LandingZone, archive: UploadArchive, warehouse: Warehouse) -> Taken:
    """Erase one of a contributor's files (every version of it), or everything they uploaded (`file` = '*': their
    archive key is destroyed too, so every archived copy, backups included, becomes unreadable)."""
    if not reason.strip():
        raise ConsentError("an erasure needs a reason (it is kept with the record)")
    present = {u.file: u for u in landing_zone.snapshot(contributor_id) if not u.is_symlink}
    names = sorted(present) if file == "*" else [file]
    versions: dict[str, list] = {name: [] for name in names}
    if Path(warehouse.database).exists():  # nothing ingested yet: only the landing zone holds uploads
        with warehouse.reader() as conn:
            if file == "*":
                names = sorted({f for (f,) in conn.execute(
                    "SELECT DISTINCT file FROM uploads WHERE contributor_id = ?", [contributor_id]).fetchall()}
                    | set(present))
            versions = {name: upload_versions(conn, contributor_id, name) for name in names}
    shas: dict[str, set[str]] = {name: {sha for sha, status, _ in found if status != "erased"}
                                 for name, found in versions.items()}
    for name in names:
        if name in present:
            shas[name].add(file_sha256(present[name].path))
    if not any(shas.values()):
        raise ConsentError(f"refused: contributor {contributor_id!r} has no upload named {file!r} to erase"
                           if file != "*" else f"refused: contributor {contributor_id!r} has no uploads")
    taken = Taken([], [], 0)
    for name in names:
        for sha in sorted(shas[name]):
            taken.requests.append(registry.request_erasure(contributor_id, name, sha, requested_by, reason))
            taken.copies_destroyed += archive.erase(contributor_id, sha)
        if name in present:
            path = present[name].path
            for victim in (path, path.with_name(path.name + SIDECAR_SUFFIX)):
                try:
                    os.unlink(victim)
                except FileNotFoundError:
                    continue
            taken.files_removed.append(name)
    if file == "*":
        taken.copies_destroyed += archive.erase_contributor(contributor_id)
    return taken
