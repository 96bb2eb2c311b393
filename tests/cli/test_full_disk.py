"""A full disk mid-run: `onett ingest` and `onett close` stop with one clear line, nothing is half-written, and once
there is space again the same commands finish with exactly the tables of a platform that never ran out. Runs on a
small tmpfs, so it needs root (as `make test` runs); skipped otherwise."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import ROOT

TABLES = ["documents", "token_funnel", "uploads", "payouts", "contribution_ratios", "api_credit_ledger"]


def _onett(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONETT_")}
    env.update(DAGSTER_HOME=str(home), ONETT_SETTLE_SECONDS="0", ONETT_LOG_LEVEL="ERROR")
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
    full = _onett(home, "ingest")  # about half of what the demo needs fits
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
