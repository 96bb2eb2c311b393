"""Pages keep answering while the pipeline writes the warehouse: another process holding DuckDB's write lock
(as a run does) never makes a page hang or fail; pages show their last numbers with an "as of" note, or a
self-refreshing "being updated" page, and the fresh numbers once the writer is done."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from portal.conftest import PUBLISHER, fresh_documents, platform_env

HOLD_SECONDS = 18
REQUEST_SECONDS = 3  # the slowest a page may answer under the writer
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8  # an image, named .txt
HOLDER = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1])  # a writer, like a run's step
conn.execute("BEGIN TRANSACTION")
conn.execute("UPDATE uploads SET docs_read = docs_read")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
conn.close()
"""


def _timed(fn, *args, **kwargs):
    started = time.monotonic()
    result = fn(*args, **kwargs)
    return result, time.monotonic() - started


def test_pages_answer_while_another_process_holds_the_write_lock(home, browser):
    alice, bob = browser("alice"), browser("bob", lang="en")
    before = alice.get("/")  # alice's dashboard is read (and remembered) before the writer starts
    read_at = time.monotonic()
    assert before.status_code == 200 and "기준 숫자입니다" not in before.text

    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(home / "onett.duckdb"), str(HOLD_SECONDS)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        # Every round's three requests must start and end while the writer holds the lock, however slow the machine.
        last_round = time.monotonic() + HOLD_SECONDS - 3 * REQUEST_SECONDS - 0.5
        time.sleep(max(0.0, read_at + 2.1 - time.monotonic()))  # past the reader's freshness window
        seen = {"stale": 0, "busy": 0}
        while time.monotonic() < last_round:
            page, took = _timed(alice.get, "/")
            assert page.status_code == 200 and took < 3, took
            assert "기준 숫자입니다. 지금 갱신 중이며" in page.text  # the last good numbers, with their time
            assert f"{PUBLISHER} 대시보드" in page.text and '<svg class="chart funnel"' in page.text
            seen["stale"] += 1
            # Bob's dashboard was never read: a page that says so and refreshes itself.
            page, took = _timed(bob.get, "/")
            assert page.status_code == 200 and took < 3, took
            assert "The numbers are being updated" in page.text and '<meta http-equiv="refresh"' in page.text
            api, took = _timed(bob.get, "/api/statement")
            assert api.status_code == 503 and api.headers["retry-after"] and took < 3
            seen["busy"] += 1
        assert seen["stale"] >= 2 and seen["busy"] >= 2
    finally:
        holder.wait(timeout=30)
    time.sleep(2.1)  # past the reader's freshness window
    after = alice.get("/")
    assert after.status_code == 200 and "기준 숫자입니다" not in after.text
    assert bob.get("/api/statement").status_code == 200


def test_pages_answer_during_a_real_ingest(home, browser):
    """`onett ingest` of new uploads runs (writing the warehouse step by step) while pages are requested;
    then each file shows what became of it."""
    bob = browser("bob")
    assert bob.upload([("petitions.jsonl", fresh_documents(6, "late")), ("scan.txt", PNG)]).status_code == 200
    states = {f["file"]: f for f in bob.get("/api/files").json()["files"]}
    assert states["petitions.jsonl"]["state"] == states["scan.txt"]["state"] == "waiting"
    page = bob.get("/uploads")
    assert "대기 중" in page.text and 'data-pending="1"' in page.text
    ingest = subprocess.Popen([sys.executable, "-m", "onett_cli.main", "ingest"], env=platform_env(home),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    slowest, requests = 0.0, 0
    results = []
    reader = threading.Thread(target=lambda: results.append(ingest.stdout.read()))
    reader.start()
    try:
        while ingest.poll() is None:
            for path in ["/", "/uploads", "/api/files"]:
                response, took = _timed(bob.get, path)
                assert response.status_code in (200, 503), (path, response.status_code)
                slowest, requests = max(slowest, took), requests + 1
            time.sleep(0.05)
    finally:
        ingest.wait(timeout=300)
        reader.join()
    assert ingest.returncode == 0, results
    assert requests >= 3 and slowest < 3, (requests, slowest)
    time.sleep(2.1)  # past the reader's freshness window
    files = {f["file"]: f for f in bob.get("/api/files").json()["files"]}
    tokens = files["petitions.jsonl"]["accepted_tokens"]
    assert files["petitions.jsonl"]["state"] == "accepted" and tokens > 0
    assert files["scan.txt"]["state"] == "rejected" and "a PNG image" in files["scan.txt"]["error"]
    table = bob.get("/uploads/files").text
    assert f"승인: {tokens:,} 토큰" in table and "거부됨" in table and "a PNG image" in table
    assert f'data-tokens="{tokens}"' in bob.get("/").text  # the dashboard's numbers changed


def test_no_warehouse_yet_reads_as_empty(tmp_path):
    from onett_portal.reads import WarehouseReader, known_contributors

    path = tmp_path / "onett.duckdb"
    assert WarehouseReader(path).read(("k",), known_contributors).value == []
    assert not path.exists()  # the portal never creates (or writes) the warehouse


def test_a_page_of_yesterday_is_shown_stale_under_a_writer_and_never_fresh_today(tmp_path):
    """Pages computed for a day are remembered per page: past midnight, with a writer holding the warehouse,
    the last numbers are still shown (as stale); with the warehouse free, a new day reads again."""
    from datetime import date, timedelta

    import duckdb
    import pytest

    from onett_portal.reads import WarehouseBusy, WarehouseReader

    path = tmp_path / "onett.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE uploads (docs_read INTEGER)")
        conn.execute("INSERT INTO uploads VALUES (1)")
    count = lambda conn: conn.execute("SELECT count(*) FROM uploads").fetchone()[0]  # noqa: E731
    reader = WarehouseReader(path, retry_seconds=0.2, fresh_seconds=60)
    day = date(2026, 12, 6)
    first = reader.read(("dashboard", "alice"), count, day)
    assert (first.value, first.stale) == (1, False)
    with duckdb.connect(str(path)) as conn:
        conn.execute("INSERT INTO uploads VALUES (2)")
    assert reader.read(("dashboard", "alice"), count, day).value == 1  # young enough to serve again
    next_day = reader.read(("dashboard", "alice"), count, day + timedelta(days=1))
    assert (next_day.value, next_day.stale) == (2, False)  # another day: read again, though young

    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), "5"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        later = reader.read(("dashboard", "alice"), count, day + timedelta(days=2))
        assert (later.value, later.stale, later.read_at) == (2, True, next_day.read_at)
        with pytest.raises(WarehouseBusy):
            reader.read(("dashboard", "bob"), count, day + timedelta(days=2))
    finally:
        holder.kill()
        holder.wait(timeout=30)
