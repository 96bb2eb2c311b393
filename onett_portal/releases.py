"""The operator's view of the training releases, and downloads of their files.

Only a published release's description files and the shards its manifest lists are served: the file name is
checked against that list, never joined onto a path as given, so nothing else under the release folder (or
outside it) can be reached."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from onett_resources.release_store import ReleaseError, ReleaseStore

DESCRIPTION_FILES = ("manifest.json", "croissant.json", "README.md")
REMOVAL_REASONS = ("withdrawn", "erased", "expired", "no_longer_credited")
MEDIA_TYPES = {".json": "application/json", ".md": "text/markdown; charset=utf-8",
               ".parquet": "application/vnd.apache.parquet"}


def _count(value) -> int:
    """A removal reason in a manifest: the list of document ids (or, from elsewhere, their number)."""
    return len(value) if isinstance(value, (list, tuple)) else int(value or 0)


def _moment(text) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except (TypeError, ValueError):
        return None


def release_rows(store: ReleaseStore) -> list[dict]:
    """Newest first, with what the table and the download links need."""
    rows = []
    for m in reversed(store.manifests()):
        removed = m.get("removed") or {}
        rows.append({
            "release_id": m["release_id"], "period": m.get("period", ""), "created_at": _moment(m.get("created_at")),
            "documents": int(m.get("documents", 0)), "tokens": int(m.get("tokens", 0)),
            "megabytes": int(m.get("bytes", 0)) / (1 << 20), "shards": [s["file"] for s in m.get("shards", [])],
            "removed": {reason: _count(removed.get(reason)) for reason in REMOVAL_REASONS},
            "since": removed.get("since"),
            "files": [name for name in DESCRIPTION_FILES if (store.root / m["release_id"] / name).is_file()],
        })
    return rows


def release_file(store: ReleaseStore, release_id: str, name: str) -> Path | None:
    """The file to serve, or None when `release_id` is no published release or `name` none of its files."""
    if release_id not in store.release_ids():
        return None
    try:
        manifest = store.manifest(release_id)
    except (ReleaseError, ValueError):
        return None
    listed = set(DESCRIPTION_FILES) | {s.get("file") for s in manifest.get("shards", [])}
    if name not in listed:
        return None
    folder = store.root / release_id
    path = folder / name
    if path.is_symlink() or not path.is_file() or path.resolve().parent != folder.resolve():
        return None
    return path


class ReleasePages:
    def __init__(self, portal):
        self.p = portal  # the app's Portal: its guard, rendering and resources

    def releases_page(self, request: Request) -> Response:
        who = self.p.guard(request, "operator")
        if isinstance(who, Response):
            return who
        return self.p.render(request, "releases.html", {"releases": release_rows(self.p.release_store)}, who)

    def download(self, request: Request) -> Response:
        who = self.p.guard(request, "operator")
        if isinstance(who, Response):
            return who
        release_id, name = request.path_params["release_id"], request.path_params["name"]
        path = release_file(self.p.release_store, release_id, name)
        if path is None:
            return self.p.not_found(request, who)
        download = f"{release_id}-{name}"
        ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", download)
        return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"), headers={
            "content-disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(download)}"})

    def routes(self) -> list[Route]:
        return [
            Route("/operator/releases", self.releases_page, methods=["GET"], name="releases"),
            Route("/operator/releases/{release_id}/{name}", self.download, methods=["GET"]),
        ]
