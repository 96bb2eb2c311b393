"""`onett backup` and `onett restore`: a backup taken while a writer holds the warehouse is consistent and restores
into a new home as the same platform (every table row for row, every statement, the same next ingest); a damaged
backup is refused before anything is written; an erasure made after the backup stays made after a restore."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from conftest import SEOUL, Testbed as Platform, corpus, seoul
from onett_domain.earning import accepted_tokens_through

CONTRIBUTORS = ("bob", "carol")
HOLD_WRITER = """
import duckdb, sys, time
conn = duckdb.connect(sys.argv[1])
conn.execute("BEGIN TRANSACTION")
conn.execute("CREATE TABLE backup_probe AS SELECT 42 AS answer")
print("holding", flush=True)
time.sleep(3)
conn.execute("COMMIT")
conn.close()
"""


def _texts(start: int, count: int) -> list[str]:
    return [d["text"] for d in corpus("ko_petitions", "petitions.jsonl.gz", limit=60)][start:start + count]


def _platform(onett: Platform) -> None:
    texts = _texts(0, 20)
    onett.drop("bob", "b.jsonl", [{"id": f"b{i}", "text": t} for i, t in enumerate(texts[:10])], seoul(2026, 9, 20))
    onett.drop("carol", "c.jsonl", [{"id": f"c{i}", "text": t} for i, t in enumerate(texts[10:])],
               seoul(2026, 9, 21))
    onett.revenue([(date(2026, 9, 1) + timedelta(n), 1, 1, 1, "1000") for n in range(30)])
    onett.ok("ingest")
    onett.ok("close", "2026-09")


def _other_home(tmp_path: Path, monkeypatch, name: str) -> Platform:
    home = tmp_path / name
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return Platform(home)


def _use(monkeypatch, bed: Platform) -> Platform:
    monkeypatch.setenv("DAGSTER_HOME", str(bed.home))
    return bed


def _table_differences(a: Path, b: Path, ignore: tuple[str, ...] = ()) -> dict[str, tuple[int, int, int]]:
    """Per table of either warehouse: (rows in a, rows in b, rows in one and not the other), for tables that differ;
    columns named in `ignore` are left out of the comparison."""
    conn = duckdb.connect()
    try:
        conn.execute(f"ATTACH '{a}' AS a (READ_ONLY)")
        conn.execute(f"ATTACH '{b}' AS b (READ_ONLY)")
        tables = {db: {t for (t,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? AND table_schema = 'main' "
            "AND table_type = 'BASE TABLE'", [db]).fetchall()} for db in ("a", "b")}
        assert tables["a"] == tables["b"], tables
        assert len(tables["a"]) > 10
        differ = {}
        for table in sorted(tables["a"]):
            columns = [c for (c,) in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_catalog = 'a' AND table_name = ? "
                "ORDER BY ordinal_position", [table]).fetchall() if c not in ignore]
            select = ", ".join(f'"{c}"' for c in columns)
            (rows_a,), = conn.execute(f'SELECT count(*) FROM a."{table}"').fetchall()
            (rows_b,), = conn.execute(f'SELECT count(*) FROM b."{table}"').fetchall()
            (apart,), = conn.execute(
                f'SELECT count(*) FROM ((SELECT {select} FROM a."{table}" EXCEPT ALL SELECT {select} FROM b."{table}") '
                f'UNION ALL (SELECT {select} FROM b."{table}" EXCEPT ALL SELECT {select} FROM a."{table}"))'
            ).fetchall()
            if rows_a != rows_b or apart:
                differ[table] = (rows_a, rows_b, apart)
        return differ
    finally:
        conn.close()


def test_backup_while_a_writer_holds_the_warehouse_restores_the_same_platform(onett, tmp_path, monkeypatch):
    _platform(onett)
    statements = {c: onett.ok("statement", c) for c in CONTRIBUTORS}
    assert all("2026-09" in s for s in statements.values())

    # Another process holds the warehouse's writer in an open transaction while the backup starts: the backup waits
    # for it and copies the committed result, never a file in the middle of a write.
    writer = subprocess.Popen([sys.executable, "-c", HOLD_WRITER, str(onett.warehouse)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert writer.stdout.readline().strip() == "holding"
        backup, keys = tmp_path / "backup", tmp_path / "keys"
        out = onett.ok("backup", str(backup), "--keys", str(keys))
    finally:
        assert writer.wait(timeout=60) == 0
    assert "waiting for the run to let go of it" in out

    manifest = json.loads((backup / "manifest.json").read_text())
    parts = {name for name, p in manifest["parts"].items() if p["included"]}
    assert {"instance", "warehouse", "consent", "storage", "releases", "landing", "revenue"} <= parts
    assert manifest["keys"]["included"] and manifest["version"]
    listed = {f"{f['part']}/{f['path']}" for f in manifest["files"]}
    on_disk = {p.relative_to(backup).as_posix() for p in backup.rglob("*") if p.is_file()} - {"manifest.json"}
    assert listed == on_disk
    assert "landing/bob/b.jsonl" in listed and any(p.startswith("storage/uploads/") for p in listed)
    assert any(p.startswith("instance/") and p.endswith(".db") for p in listed)  # Dagster's own SQLite
    assert not any("upload-keys" in p or "payee-key" in p for p in listed)  # keys only in the keys folder
    assert (keys / "upload_keys" / "upload-keys.json").is_file()
    for path in [backup, keys, *backup.rglob("*"), *keys.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path

    restored = _other_home(tmp_path, monkeypatch, "restored_home")
    out = restored.ok("restore", str(backup), "--keys", str(keys))
    assert f"{len(manifest['files'])} file(s) restored" in out
    assert restored.query("SELECT answer FROM backup_probe") == [(42,)]  # the writer's committed transaction
    assert _table_differences(onett.warehouse, restored.warehouse) == {}
    for contributor in CONTRIBUTORS:
        assert restored.ok("statement", contributor) == statements[contributor]
    assert "everything agrees" in restored.ok("verify")  # archive decrypted with the restored keys
    assert (restored.landing / "bob" / "b.jsonl").stat().st_mtime == (onett.landing / "bob" / "b.jsonl").stat().st_mtime

    # The same new upload on both platforms gives the same result.
    new = [{"id": f"n{i}", "text": t} for i, t in enumerate(_texts(20, 5))]
    for bed in (restored, onett):
        _use(monkeypatch, bed)
        bed.drop("carol", "new.jsonl", new, seoul(2026, 10, 3))
        bed.ok("ingest")
        bed.ok("close", "2026-10")
    assert onett.query("SELECT count(*) FROM documents WHERE file = 'new.jsonl'") == [(5,)]
    timings = ("closed_at", "recorded_at", "computed_at", "frozen_at", "updated_at")
    assert _table_differences(onett.warehouse, restored.warehouse, ignore=timings) == {}
    for contributor in CONTRIBUTORS:
        expected = onett.ok("statement", contributor)
        _use(monkeypatch, restored)
        assert restored.ok("statement", contributor) == expected
        _use(monkeypatch, onett)


def test_a_damaged_or_incomplete_backup_is_refused_and_nothing_is_restored(onett, tmp_path, monkeypatch):
    onett.drop("bob", "b.jsonl", [{"id": f"b{i}", "text": t} for i, t in enumerate(_texts(0, 5))], seoul(2026, 9, 20))
    onett.ok("ingest")
    backup = tmp_path / "backup"
    out = onett.ok("backup", str(backup))
    assert "keys NOT included" in out and "cannot be read back without the live key file" in out

    landing_copy = backup / "landing" / "bob" / "b.jsonl"
    data = bytearray(landing_copy.read_bytes())
    data[len(data) // 2] ^= 0x01
    landing_copy.write_bytes(bytes(data))
    (backup / "warehouse" / "onett.duckdb").unlink()
    restored = _other_home(tmp_path, monkeypatch, "restored_home")
    code, out = restored.cli("restore", str(backup))
    assert code == 1
    assert f"{landing_copy}: its sha256 differs from the manifest's (corrupted)" in out
    assert f"{backup / 'warehouse' / 'onett.duckdb'}: missing" in out and "nothing was restored" in out
    assert not restored.home.exists() or not any(p.is_file() for p in restored.home.rglob("*"))

    (backup / "manifest.json").unlink()
    code, out = restored.cli("restore", str(backup))
    assert code == 1 and "manifest.json is missing" in out

    _use(monkeypatch, onett)
    code, out = onett.cli("backup", str(backup))
    assert code == 1 and "not an empty folder" in out
    code, out = onett.cli("backup", str(onett.home / "inside"))
    assert code == 1 and "a backup would copy itself" in out


def _text_in_parts(home: Path, needle: str) -> list[Path]:
    found = []
    for path in home.rglob("*.parquet"):
        table = pq.read_table(path)
        if "text" in table.column_names and any(needle in (t or "") for t in table.column("text").to_pylist()):
            found.append(path)
    return found


def _earning_now(bed: Platform) -> list[str]:
    conn = duckdb.connect(str(bed.warehouse), read_only=True)
    try:
        return sorted(accepted_tokens_through(conn, datetime.now(SEOUL).date().replace(day=1), SEOUL))
    finally:
        conn.close()


def test_an_erasure_made_after_the_backup_is_applied_again_on_restore(onett, tmp_path, monkeypatch):
    _platform(onett)
    erased_text = _texts(0, 1)[0]
    needle = erased_text.strip()[:40]
    (sha,), = onett.query("SELECT sha256 FROM uploads WHERE contributor_id = 'bob' AND file = 'b.jsonl'")
    backup, keys = tmp_path / "backup", tmp_path / "keys"
    onett.ok("backup", str(backup), "--keys", str(keys))
    onett.ok("erase", "bob", "b.jsonl", "--reason", "the contributor asked")
    assert not (onett.landing / "bob" / "b.jsonl").exists()
    assert _text_in_parts(onett.home, needle) == []
    earning_after_erasure = _earning_now(onett)

    code, out = onett.cli("restore", str(backup), "--keys", str(keys))
    assert code == 1 and "refusing to overwrite" in out  # the platform holds data: --force only
    out = onett.ok("restore", str(backup), "--keys", str(keys), "--force")
    assert "not restored: landing/bob/b.jsonl: erased" in out
    assert f"not restored: archived copy uploads/bob/{sha[:2]}/{sha}.sealed" in out
    assert "not restored: the archive key of 'bob'" in out
    assert "every recorded erasure is applied" in out

    assert not (onett.landing / "bob" / "b.jsonl").exists()
    assert (onett.landing / "carol" / "c.jsonl").exists()
    landing_bytes = b"".join(p.read_bytes() for p in onett.landing.rglob("*") if p.is_file())
    assert needle.encode() not in landing_bytes
    assert not list((onett.home / "data" / "uploads").rglob(f"{sha}*"))
    assert _text_in_parts(onett.home, needle) == []  # nor in the Parquet parts or releases
    assert onett.query("SELECT status FROM uploads WHERE contributor_id = 'bob' AND file = 'b.jsonl'") == [("erased",)]
    assert onett.query("SELECT count(*) FROM documents WHERE contributor_id = 'bob' AND erased_at IS NULL") == [(0,)]
    keys_now = json.loads((onett.home / "keys" / "upload-keys.json").read_text())["keys"]
    assert "bob" not in keys_now and "carol" in keys_now

    # Its documents earn nothing from the erasure on (months that ended before it stay as they were, as for any
    # withdrawal): the month in progress credits carol alone, as it did on the platform before the restore.
    assert _earning_now(onett) == earning_after_erasure == ["carol"]
    assert "everything agrees" in onett.ok("verify")
