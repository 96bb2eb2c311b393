"""Fault injection on the real pipeline: killed runs, concurrent runs, frozen months (the bad-input issue)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, timedelta

import pytest

from conftest import ROOT, corpus, seoul

TABLES = ["documents", "token_funnel", "uploads"]


def snapshot(onett) -> dict:
    return {t: onett.query(f"SELECT * FROM {t} ORDER BY ALL") for t in TABLES}


def fill(onett, n_contributors: int = 6) -> None:
    docs = corpus("ko_petitions", "petitions.jsonl.gz", limit=120 * n_contributors)
    for i in range(n_contributors):
        chunk = docs[i * 120:(i + 1) * 120] + docs[:5]  # everyone also copies the first five
        onett.drop(f"기여자{i}", "upload.jsonl", chunk, seoul(2026, 9, 1 + i, 9))


def ingest_process(onett) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "onett_cli.main", "ingest"], cwd=ROOT, env=dict(os.environ),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )


def test_a_killed_ingest_leaves_no_partial_rows_and_a_rerun_repairs_everything(onett, tmp_path):
    fill(onett)
    onett.ok("ingest")
    expected = snapshot(onett)

    # Start again from nothing and kill the ingest in the middle of its work, several times.
    for attempt, delay in enumerate([3.0, 5.0]):
        for path in onett.home.iterdir():  # a fresh platform, same uploads
            if path.name not in ("landing", "dagster.yaml"):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        process = ingest_process(onett)
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        if onett.warehouse.exists():
            # Whatever was committed is whole: every partition has either all its rows or none.
            for contributor, docs, funnel in onett.query(
                """SELECT s.contributor_id, count(DISTINCT d.position), count(DISTINCT f.stage)
                   FROM uploads s LEFT JOIN documents d USING (contributor_id, period)
                   LEFT JOIN token_funnel f USING (contributor_id, period) GROUP BY 1"""):
                assert funnel in (0, len(onett.query("SELECT DISTINCT stage FROM token_funnel"))), contributor
        onett.ok("ingest")
        assert snapshot(onett) == expected, f"attempt {attempt}"


def test_concurrent_ingests_queue_on_the_single_writer(onett):
    fill(onett, 4)
    first, second = ingest_process(onett), ingest_process(onett)
    outputs = [p.communicate(timeout=600)[0].decode() for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    once = snapshot(onett)
    onett.ok("ingest")
    assert snapshot(onett) == once
    assert onett.query("SELECT count(*) FROM (SELECT contributor_id, file, position, count(*) n FROM documents GROUP BY ALL HAVING n > 1)")[0][0] == 0


def test_closed_month_is_frozen_and_a_late_upload_becomes_an_adjustment(onett):
    texts = [d["text"] for d in corpus("ko_petitions", "petitions.jsonl.gz", limit=40)]
    onett.drop("bob", "b.jsonl", [{"id": f"b{i}", "text": t} for i, t in enumerate(texts[:10])], seoul(2026, 9, 20))
    onett.drop("carol", "c.jsonl", [{"id": f"c{i}", "text": t} for i, t in enumerate(texts[10:20])], seoul(2026, 9, 21))
    onett.revenue([(date(2026, 9, 1) + timedelta(n), 1, 1, 1, "1000") for n in range(61)])
    onett.ok("ingest")
    onett.ok("close", "2026-09")
    published = onett.query("SELECT contributor_id, amount FROM payouts WHERE period = '2026-09-01' ORDER BY 1")

    # alice's file, dated earlier in September, arrives after the close and holds copies of bob's documents
    onett.drop("alice", "a.jsonl", [{"id": f"a{i}", "text": t} for i, t in enumerate(texts[:5])], seoul(2026, 9, 2))
    onett.ok("ingest")
    out = onett.ok("close", "2026-09")
    assert "frozen" in out
    assert onett.query("SELECT contributor_id, amount FROM payouts WHERE period = '2026-09-01' ORDER BY 1") == published
    adjustments = dict(onett.query(
        "SELECT contributor_id, amount FROM payout_adjustments WHERE period = '2026-09-01' AND applied_in IS NULL"))
    assert adjustments["alice"] > 0 and adjustments["bob"] < 0 and sum(adjustments.values()) == 0
    onett.ok("close", "2026-09")  # recomputing again never doubles an adjustment
    assert dict(onett.query(
        "SELECT contributor_id, amount FROM payout_adjustments WHERE period = '2026-09-01'")) == adjustments

    onett.ok("close", "2026-10")
    october = {c: (a, adj) for c, a, adj in onett.query(
        "SELECT contributor_id, amount, adjustment FROM payouts WHERE period = '2026-10-01'")}
    assert october["alice"][1] == adjustments["alice"] and october["bob"][1] == adjustments["bob"]
    pool = onett.query("SELECT pool FROM payout_periods WHERE period = '2026-10-01'")[0][0]
    assert sum(a for a, _ in october.values()) == pool  # the pool itself still splits exactly
    assert onett.query("SELECT count(*) FROM payout_adjustments WHERE applied_in IS NULL")[0][0] == 0
    statement = onett.ok("statement", "alice")
    assert "of which adjustments" in statement


def test_symlinks_are_recorded_and_never_followed(onett, tmp_path):
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("이 파일은 랜딩 존 밖에 있으므로 절대 읽혀서는 안 됩니다. 심볼릭 링크는 따라가지 않습니다.")
    folder = onett.landing / "eve"
    folder.mkdir(parents=True)
    (folder / "link.txt").symlink_to(secret)
    (folder / "linked-dir").symlink_to(secret.parent, target_is_directory=True)
    onett.drop("eve", "real.txt", "정상적으로 올린 문서입니다. 이 문서는 읽혀서 보상을 받아야 합니다. 충분히 깁니다.", seoul(2026, 9, 3))
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file() and "dagster_home" not in p.parts}
    onett.ok("ingest")
    rows = dict(onett.query("SELECT file, status || ': ' || error FROM uploads WHERE contributor_id = 'eve'"))
    assert rows["real.txt"].startswith("accepted")
    assert rows["link.txt"].startswith("rejected") and "symbolic link" in rows["link.txt"]
    assert rows["linked-dir"].startswith("rejected") and "symbolic link" in rows["linked-dir"]
    assert onett.query("SELECT count(*) FROM documents WHERE contributor_id = 'eve'")[0][0] == 1
    # nothing outside the platform's folders was written or touched
    after = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file() and "dagster_home" not in p.parts}
    assert after == before


def test_two_ingests_registering_the_same_new_contributor_both_go_on(tmp_path):
    """Both ingests found 기여자1 new; the other inserted it first, so this insert breaks the unique key (as SQLite
    and PostgreSQL refuse it): this one looks again and adds only the rest."""
    from dagster import DagsterInstance
    from sqlalchemy.exc import IntegrityError

    from onett_cli.ingest import register_contributors

    ours, theirs = DagsterInstance.local_temp(str(tmp_path)), DagsterInstance.local_temp(str(tmp_path))
    inserts, insert = [], ours.add_dynamic_partitions

    def racing_insert(name: str, keys: list[str]) -> None:
        inserts.append(list(keys))
        if len(inserts) == 1:
            theirs.add_dynamic_partitions(name, ["기여자1"])
            raise IntegrityError("INSERT INTO dynamic_partitions", {}, Exception("UNIQUE constraint failed"))
        insert(name, keys)

    ours.add_dynamic_partitions = racing_insert
    register_contributors(ours, ["기여자0", "기여자1", "기여자2"])
    assert sorted(theirs.get_dynamic_partitions("contributors")) == ["기여자0", "기여자1", "기여자2"]
    assert inserts == [["기여자0", "기여자1", "기여자2"], ["기여자0", "기여자2"]]
