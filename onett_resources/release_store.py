"""Training releases on disk: `<base_dir>/<release id>/` with Parquet shards, `manifest.json`, `croissant.json`
and `README.md` (the dataset card).

A release is written into a hidden folder and renamed into place only when complete, so an interrupted export never
leaves a partial release visible; the shards are written row group by row group (one Parquet part of `filtered`
at a time), so a release of any size is cut in bounded memory. Once published a release never changes, except when
an erasure cuts documents out of it: the erased text must not stay on disk anywhere."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
from dagster import ConfigurableResource

from onett_resources.durable import file_sha256, fsync


class ReleaseError(RuntimeError):
    """A release cannot be cut or exported as asked; the message says why."""


class ShardWriter:
    """Parquet shards of about `shard_bytes` each: a new shard starts once the current one is that large."""

    def __init__(self, folder: Path, shard_bytes: int):
        self.folder, self.shard_bytes = folder, shard_bytes
        self.shards: list[dict] = []
        self._writer: pq.ParquetWriter | None = None
        self._path: Path | None = None
        self._rows = self._tokens = 0

    def write(self, rows: pl.DataFrame) -> None:
        if rows.height == 0:
            return
        table = rows.to_arrow()
        if self._writer is None:
            self._path = self.folder / f"shard-{len(self.shards):05d}.parquet"
            self._writer = pq.ParquetWriter(self._path, table.schema, compression="zstd")
        self._writer.write_table(table, row_group_size=max(table.num_rows, 1))
        self._rows += rows.height
        self._tokens += int(rows["tokens"].sum())
        if self._path.stat().st_size >= self.shard_bytes:
            self._finish()

    def _finish(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._writer = None
        self.shards.append({"file": self._path.name, "sha256": file_sha256(self._path), "rows": self._rows,
                            "tokens": self._tokens, "bytes": self._path.stat().st_size})
        self._rows = self._tokens = 0

    def close(self) -> list[dict]:
        self._finish()
        return self.shards


class ReleaseStore(ConfigurableResource):
    base_dir: str
    shard_mb: int = 256
    publisher: str = "onett operator"  # who publishes the releases (the dataset's creator in Croissant)
    publisher_url: str = ""

    def platform(self) -> dict:
        return {"name": "onett", "operator": self.publisher, "url": self.publisher_url}

    @property
    def root(self) -> Path:
        return Path(self.base_dir)

    def release_ids(self) -> list[str]:
        """Published releases, oldest first (by the time they were cut)."""
        if not self.root.is_dir():
            return []
        found = [(m["created_at"], m["release_id"]) for m in map(self._manifest_or_none, self.root.iterdir()) if m]
        return [r for _, r in sorted(found)]

    def _manifest_or_none(self, folder: Path) -> dict | None:
        if folder.name.startswith(".") or not (folder / "manifest.json").is_file():
            return None
        return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))

    def manifest(self, release_id: str) -> dict:
        folder = self.root / release_id
        if not (folder / "manifest.json").is_file():
            known = ", ".join(self.release_ids()) or "none"
            raise ReleaseError(f"there is no release {release_id!r} (releases: {known})")
        return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))

    def manifests(self) -> list[dict]:
        return [self.manifest(r) for r in self.release_ids()]

    def shard_paths(self, release_id: str) -> list[str]:
        return [str(self.root / release_id / s["file"]) for s in self.manifest(release_id)["shards"]]

    def writing(self) -> _ReleaseWriter:
        return _ReleaseWriter(self)

    def export(self, release_id: str, target: Path) -> Path:
        """Copy a release to `target/<release id>`, every shard checked against the manifest's sha256; the copy
        appears only once complete."""
        manifest = self.manifest(release_id)
        final = target / release_id
        if final.exists():
            raise ReleaseError(f"{final} already exists; exports never overwrite")
        target.mkdir(parents=True, exist_ok=True)
        work = target / f".{release_id}.{uuid.uuid4().hex[:8]}.partial"
        work.mkdir()
        try:
            for shard in manifest["shards"]:
                shutil.copyfile(self.root / release_id / shard["file"], work / shard["file"])
                if file_sha256(work / shard["file"]) != shard["sha256"]:
                    raise ReleaseError(f"{release_id}/{shard['file']}: sha256 differs from the manifest; not exported")
            for name in ("manifest.json", "croissant.json", "README.md"):
                if (self.root / release_id / name).exists():
                    shutil.copyfile(self.root / release_id / name, work / name)
            os.rename(work, final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return final

    def redact(self, document_ids: set[str], when: str, describe) -> list[str]:
        """Cut the given documents out of every published release that holds them (an erasure); shards are
        rewritten in place of the old ones and the manifest records what was cut. `describe(manifest)` writes the
        dataset description files again. Returns the releases changed."""
        changed = []
        for release_id in self.release_ids():
            folder = self.root / release_id
            manifest = self.manifest(release_id)
            cut: list[str] = []
            for shard in manifest["shards"]:
                path = folder / shard["file"]
                ids = pl.read_parquet(path, columns=["document_id"])["document_id"]
                hit = ids.is_in(list(document_ids))
                if not hit.any():
                    continue
                rows, tokens = _rewrite_without(path, document_ids)
                cut += ids.filter(hit).to_list()
                shard.update(sha256=file_sha256(path), rows=rows, tokens=tokens, bytes=path.stat().st_size)
            if cut:
                manifest.setdefault("redactions", []).append(
                    {"at": when, "reason": "erasure", "document_ids": sorted(cut)})
                manifest["documents"] = sum(s["rows"] for s in manifest["shards"])
                manifest["tokens"] = sum(s["tokens"] for s in manifest["shards"])
                manifest["bytes"] = sum(s["bytes"] for s in manifest["shards"])
                _write_description(folder, manifest, describe)
                changed.append(release_id)
        return changed


def _rewrite_without(path: Path, document_ids: set[str]) -> tuple[int, int]:
    """The shard again without the given documents, row group by row group (bounded memory), in place of the old
    one; returns its rows and tokens."""
    source = pq.ParquetFile(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    writer, rows, tokens = pq.ParquetWriter(tmp, source.schema_arrow, compression="zstd"), 0, 0
    try:
        for group in range(source.num_row_groups):
            kept = pl.from_arrow(source.read_row_group(group)).filter(~pl.col("document_id").is_in(list(document_ids)))
            if kept.height:
                writer.write_table(kept.to_arrow(), row_group_size=kept.height)
                rows, tokens = rows + kept.height, tokens + int(kept["tokens"].sum())
    finally:
        writer.close()
    fsync(tmp)
    os.replace(tmp, path)
    return rows, tokens


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    fsync(tmp)
    os.replace(tmp, path)


def _write_description(folder: Path, manifest: dict, describe) -> None:
    """manifest.json last: a folder with a manifest is a complete release."""
    croissant, card = describe(manifest)
    _write_json(folder / "croissant.json", croissant)
    tmp = folder / ".README.md.tmp"
    tmp.write_text(card, encoding="utf-8")
    os.replace(tmp, folder / "README.md")
    _write_json(folder / "manifest.json", manifest)


class _ReleaseWriter:
    """Writes one release in a hidden folder; `publish` renames it into place, `discard` removes it."""

    def __init__(self, store: ReleaseStore):
        self.store = store
        store.root.mkdir(parents=True, exist_ok=True)
        self.folder = store.root / f".cut-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.folder.mkdir()
        self.shards = ShardWriter(self.folder, store.shard_mb << 20)

    def __enter__(self) -> _ReleaseWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.discard()

    def publish(self, manifest: dict, describe) -> Path:
        final = self.store.root / manifest["release_id"]
        if final.exists():
            raise ReleaseError(f"release {manifest['release_id']} exists already; releases never change")
        _write_description(self.folder, manifest, describe)
        for path in self.folder.iterdir():
            fsync(path)
        os.rename(self.folder, final)
        fsync(self.store.root)
        return final

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
