"""A full disk mid-run: `onett ingest` and `onett close` stop with one clear line, nothing is half-written, and once
there is space again the same commands finish with exactly the tables of a platform that never ran out. Runs on a
small tmpfs, so it needs root (as `make test` runs); skipped otherwise. A submission the disk cannot hold stops
before `filtered`, naming the room it needs; one whose raw parts fill it fails without a word against its upload."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import ROOT, corpus, jsonl_zip, seoul

TABLES = ["documents", "token_funnel", "uploads", "payouts", "contribution_ratios", "api_credit_ledger"]


def _onett(home: Path, *args: str, **settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONETT_")}
    env.update(DAGSTER_HOME=str(home), ONETT_SETTLE_SECONDS="0", ONETT_LOG_LEVEL="ERROR", **settings)
    return subprocess.run([sys.executable, "-m", "onett_cli.main", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def _platform(home: Path) -> None:
    home.mkdir(parents=True)
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    assert _onett(home, "demo").returncode == 0


def _tables(home: Path) -> dict:
    conn = duckdb.connect(str(home / "onett.duckdb"), read_only=True)
    try:
        return {t: conn.execute(f"SELECT {_decisions(conn, t)} FROM {t} ORDER BY ALL").fetchall() for t in TABLES}
    finally:
        conn.close()


def _decisions(conn, table: str) -> str:
    """The columns of what a run decided, leaving out when it ran (`*_at` times other than the uploads' own)."""
    columns = [r[0] for r in conn.execute(f"DESCRIBE {table}").fetchall()]
    return ", ".join(c for c in columns if not c.endswith("_at") or c in ("submitted_at", "withdrawn_at",
                                                                           "terms_expire_at"))


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=9m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("tmpfs cannot be mounted here")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_stops_cleanly_and_the_rerun_matches(tmp_path, small_disk):
    baseline = tmp_path / "baseline"
    _platform(baseline)
    assert _onett(baseline, "ingest").returncode == 0
    assert _onett(baseline, "close", "--ended").returncode == 0

    home = small_disk / "home"
    _platform(home)
    # About half of what the demo needs fits; the room check before `filtered` is off, so the disk fills mid-run.
    full = _onett(home, "ingest", ONETT_DISK_HEADROOM="0")
    assert full.returncode == 1
    assert "onett: the disk is full" in full.stderr and "nothing was half-written" in full.stderr
    assert "Traceback" not in full.stderr

    subprocess.run(["mount", "-o", "remount,size=96m", str(small_disk)], check=True)
    assert _onett(home, "ingest").returncode == 0
    filler = small_disk / "filler"  # full again, this time for the close
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M", "count=200"], capture_output=True)
    closing = _onett(home, "close", "--ended")
    assert closing.returncode == 1 and "onett: the disk is full" in closing.stderr, closing.stdout + closing.stderr
    filler.unlink()
    done = _onett(home, "close", "--ended")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _tables(home) == _tables(baseline)


def test_a_submission_the_disk_cannot_hold_stops_before_filtered_and_runs_once_there_is_room(tmp_path):
    """The room asked for is scaled far beyond this disk: every submission stops before its filtered parts with the
    room it needs and the room free; nothing is lost, and with the default estimate the same ingest finishes with
    the tables of a platform that never stopped."""
    baseline = tmp_path / "baseline"
    _platform(baseline)
    assert _onett(baseline, "ingest").returncode == 0

    home = tmp_path / "home"
    _platform(home)
    refused = _onett(home, "ingest", ONETT_DISK_HEADROOM="1000000")
    assert refused.returncode == 1 and "Traceback" not in refused.stdout + refused.stderr
    assert "FAILED filtered: not enough disk for" in refused.stdout and "where" in refused.stdout and "is free" in refused.stdout
    assert not list((home / "data" / "filtered").rglob("*.parquet"))  # stopped before writing any
    assert _onett(home, "ingest").returncode == 0
    assert _tables(home) == _tables(baseline)


def test_disk_room_is_asked_per_file_system(tmp_path, small_disk):
    from onett_resources.disk_room import PER_RAW_BYTE, DiskRoom, NotEnoughRoom

    room = DiskRoom(storage=str(small_disk / "data"), warehouse=str(small_disk / "onett.duckdb"),
                    recitation_index=str(small_disk / "data" / "recitation-index"))
    assert room.check(100_000, "alice 2026-12") == sum(int(100_000 * v) for v in PER_RAW_BYTE.values())
    with pytest.raises(NotEnoughRoom, match=r"not enough disk for alice 2026-12: it needs about 30\.1 MB on the "
                                            r"file system of .*disk/data .*where \d\.\d MB is free"):
        room.check(1 << 20, "alice 2026-12")  # 30 MB on a 9 MB disk
    assert DiskRoom(storage=room.storage, warehouse=room.warehouse, recitation_index=room.recitation_index,
                    headroom=0).check(1 << 30, "alice 2026-12") == 0  # the check turned off

    # The warehouse on another file system: each is asked only for its own share.
    split = DiskRoom(storage=room.storage, warehouse=str(tmp_path / "onett.duckdb"),
                     recitation_index=room.recitation_index)
    needs = split.needs(400_000)
    assert sorted(kinds for _, _, kinds in needs.values()) == [
        ["the filtered documents", "the recitation guard's index"], ["the warehouse and its near-duplicate index"]]
    split.check(400_000, "alice 2026-12")  # 5.1 MB here, 6.9 MB there: both fit


def test_a_disk_that_fills_while_an_archive_is_read_records_nothing_against_it(onett, small_disk, monkeypatch):
    """The raw parts go to a disk that fills while a zip of court decisions and statutes is read: the submission
    fails, saying its documents could not be stored and why, and the upload is not recorded at all. Once there is
    room, the same ingest reads every document. (Before, the member being read was taken for a corrupt one and
    skipped, and reading went on into a part that could no longer be written: the submission failed with "Operation
    on closed file", nothing said of the disk; had the write failed only once, the archive would have been accepted
    in part, the platform's fault blamed on the contributor's file.)"""
    members = {"precedents.jsonl": corpus("ko_court_precedents", "precedents.jsonl.gz"),
               "laws.jsonl": corpus("ko_laws", "laws.jsonl.gz")}
    onett.drop("court-library", "decisions.zip", jsonl_zip(members), seoul(2026, 9, 3))
    monkeypatch.setenv("ONETT_STORAGE_DIR", str(small_disk / "data"))
    monkeypatch.setenv("ONETT_DISK_HEADROOM", "0")

    code, out = onett.cli("ingest")
    assert code == 1 and "FAILED raw_submission" in out and "Traceback" not in out, out
    assert "decisions.zip: what was read could not be stored" in out and "No space left on device" in out
    assert onett.query("SELECT file, status FROM uploads") == []

    subprocess.run(["mount", "-o", "remount,size=256m", str(small_disk)], check=True)
    onett.ok("ingest")
    documents = sum(map(len, members.values()))
    assert onett.query("SELECT file, status, docs_read, docs_skipped, error FROM uploads") == [
        ("decisions.zip", "accepted", documents, 0, "")]
