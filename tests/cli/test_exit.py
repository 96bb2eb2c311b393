"""The `onett` executable ends without the interpreter's teardown (`onett_cli.main.QuickExit`): its exit status,
everything it printed and everything it wrote must be exactly what a normal exit leaves."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from conftest import ROOT
from onett_cli.main import parser


def _onett(home: Path, *args: str) -> subprocess.CompletedProcess:
    # block-buffered output into the pipes, as in any pipeline: what is not flushed would be lost
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONETT_") and k != "PYTHONUNBUFFERED"}
    env.update(DAGSTER_HOME=str(home), ONETT_SETTLE_SECONDS="0", ONETT_LOG_LEVEL="ERROR")
    return subprocess.run([sys.executable, "-m", "onett_cli.main", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_usage_errors_and_help_keep_their_status_and_their_whole_output(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")  # the help's width, here and in the command, whatever the terminal
    wrong = _onett(tmp_path, "--no-such-option")
    assert wrong.returncode == 2
    assert wrong.stderr.startswith("usage: onett") and wrong.stdout == ""
    shown = _onett(tmp_path, "--help")
    assert shown.returncode == 0
    assert shown.stdout == parser().format_help()  # flushed whole before the process ended


def test_an_ingest_that_exits_quickly_leaves_the_platform_complete(tmp_path):
    """Every run committed, the instance's records written: the next ingest finds nothing new, and the warehouse
    holds the demo's documents. Nothing is reported at exit (no leaked objects, no traceback)."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    assert _onett(home, "demo").returncode == 0
    first = _onett(home, "ingest")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert first.stderr == ""
    again = _onett(home, "ingest")
    assert again.returncode == 0 and "nothing new or changed" in again.stdout, again.stdout[-2000:]
    conn = duckdb.connect(str(home / "onett.duckdb"), read_only=True)
    try:
        (accepted,), = conn.execute("SELECT count(*) FROM documents WHERE status = 'accepted'").fetchall()
    finally:
        conn.close()
    assert accepted > 0
