"""End to end in a real browser: Playwright drives Debian's Chromium against the portal started as
`onett portal`, on a platform with the demo's data. A new contributor signs in, uploads real files (and a bad
one), a real `onett ingest` processes them while pages keep answering, the numbers change, the other
contributor's pages are out of reach, and the operator sees everyone. Skipped cleanly without Chromium.

Set ONETT_SCREENSHOTS=DIR to keep the screenshots (the README's come from here)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from portal.conftest import PASSWORDS, PUBLISHER, ROOT, add_accounts, fresh_documents, platform_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is not installed (Debian's chromium package; `.ci/run` installs it as root)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(home):
    from onett_portal.auth import add_account
    from onett_portal.store import PortalStore

    add_accounts(home)
    # The demo's State of the Union archive: half its documents are public text, so its funnel shows removals.
    add_account(PortalStore(home / "portal.sqlite"), "archivist", "contributor", "archivist-password", "sotu-archive")
    port = _free_port()
    # The platform's paying account, which payment files name (a Korean account at KB국민은행, bank code 004).
    env = platform_env(home, ONETT_DEBTOR_ACCOUNT="110-123-456789", ONETT_DEBTOR_BANK="004")
    process = subprocess.Popen([sys.executable, "-m", "onett_cli.main", "portal", "--port", str(port)],
                               env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=2)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("the portal did not start: " + process.stdout.read().decode(errors="replace"))
            time.sleep(0.3)
    yield base
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture
def chromium():
    with sync_api.sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except Exception as exc:  # a Chromium that cannot start here (no display libraries, ...)
            pytest.skip(f"Chromium could not be started: {exc}")
        yield browser
        browser.close()


SCREENSHOTS = os.environ.get("ONETT_SCREENSHOTS")  # read now: the test's platform clears ONETT_* settings


def _shots() -> Path | None:
    folder = SCREENSHOTS
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder) if folder else None


def _sign_in(page, base: str, name: str, password: str | None = None) -> None:
    page.goto(base + "/")
    assert "/login" in page.url
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password or PASSWORDS[name])
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()


def _tokens_card(page) -> int:
    return int(page.locator("#metric-tokens .value").get_attribute("data-tokens"))


def test_contributor_uploads_sees_numbers_and_nothing_else(server, chromium, home, tmp_path):
    base, shots = server, _shots()
    bob = chromium.new_context(locale="ko-KR", viewport={"width": 1200, "height": 900}).new_page()
    problems = []  # anything blocked by the page's policy, or a request that could not be made
    bob.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text or "Refused" in m.text else None)
    bob.on("requestfailed", lambda r: problems.append(f"failed {r.url}"))
    bob.on("response", lambda r: problems.append(f"{r.status} {r.url}") if "/static/" in r.url and r.status not in (200, 304) else None)

    # Sign-in: a wrong password is refused with a clear message, then the right one.
    _sign_in(bob, base, "bob", "not the password")
    assert "계정 이름 또는 비밀번호가 올바르지 않습니다" in bob.inner_text("#login-error")
    bob.fill("input[name=name]", "bob")
    bob.fill("input[name=password]", PASSWORDS["bob"])
    bob.click("form[action='/login'] button[type=submit]")
    bob.wait_for_load_state()
    assert bob.url == base + "/" and "아직 처리된 업로드가 없습니다" in bob.content()
    assert _tokens_card(bob) == 0

    # Upload several files at once: real text, an image renamed .txt, and a type the platform cannot read.
    good, scan, photo = tmp_path / "청원-모음.jsonl", tmp_path / "scan.txt", tmp_path / "photo.png"
    good.write_bytes(fresh_documents(5))
    scan.write_bytes(PNG)
    photo.write_bytes(PNG)
    bob.click("nav >> text=업로드")
    bob.set_input_files("#files", [str(good), str(scan), str(photo)])
    bob.check("#evaluation_allowed")
    bob.check("#rights_attested")  # required: the form is not sent without it
    bob.click("#upload-button")
    sync_api.expect(bob.locator(".upload-row.ok, .upload-row.error")).to_have_count(3)
    rows = bob.locator(".upload-row")
    assert "photo.png: 허용되지 않는 파일 형식입니다" in rows.nth(2).inner_text()
    assert bob.locator(".upload-row.ok").count() == 2
    assert bob.locator(".upload-row.ok progress").first.get_attribute("value") == "100"
    bob.wait_for_selector('tr[data-file="청원-모음.jsonl"][data-state="waiting"]')
    assert bob.locator('tr[data-file="scan.txt"]').get_attribute("data-state") == "waiting"
    assert sorted(p.name for p in (home / "landing" / "bob-press").iterdir()) == [
        "scan.txt", "scan.txt.terms.json", "청원-모음.jsonl", "청원-모음.jsonl.terms.json"]
    terms = json.loads((home / "landing" / "bob-press" / "scan.txt.terms.json").read_text())
    assert terms == {"usage": "pretraining-only", "evaluation_allowed": True, "expires": None, "rights_attested": True}

    # The pipeline processes them (the sensor's work, run here by `onett ingest`); pages keep answering.
    ingest = subprocess.Popen([sys.executable, "-m", "onett_cli.main", "ingest"], env=platform_env(home),
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    watcher = chromium.new_context(locale="ko-KR").new_page()
    _sign_in(watcher, base, "alice")
    slowest = 0.0
    while ingest.poll() is None:
        started = time.monotonic()
        response = watcher.goto(base + "/")
        slowest = max(slowest, time.monotonic() - started)
        assert response.status == 200
    assert ingest.wait() == 0, ingest.stdout.read().decode(errors="replace")
    assert slowest < 3, slowest

    # The files table refreshes by itself: accepted with its tokens, and the image rejected with the reason.
    accepted = bob.wait_for_selector('tr[data-file="청원-모음.jsonl"][data-state="accepted"]', timeout=30_000)
    tokens = int(re.search(r"승인: ([\d,]+) 토큰", accepted.inner_text()).group(1).replace(",", ""))
    assert tokens > 0
    rejected = bob.locator('tr[data-file="scan.txt"]')
    assert rejected.get_attribute("data-state") == "rejected"
    assert "거부됨" in rejected.inner_text() and "a PNG image" in rejected.inner_text()
    if shots:
        bob.screenshot(path=str(shots / "portal-uploads.png"), full_page=True)

    # The numbers changed on the landing page.
    time.sleep(2.1)  # the portal serves a page read less than 2 s ago again
    bob.goto(base + "/")
    assert _tokens_card(bob) == tokens
    assert bob.locator("#funnel svg.chart").count() == 1

    # The other contributor's data is out of reach by every address the pages use, and by guessing.
    months = re.findall(r"/statements/(\d{4}-\d{2})", watcher.content())
    assert months, "alice has statements"
    for path in [f"/operator/contributors/{PUBLISHER}", f"/operator/contributors/{PUBLISHER}/statements/{months[0]}",
                 f"/operator/contributors/{PUBLISHER}/statements.csv", "/operator", "/operator/revenue",
                 f"/statements/{months[0]}", f"/statements/{months[0]}/csv", "/api/operator"]:
        response = bob.goto(base + path)
        assert response.status == 404, path
        assert PUBLISHER not in bob.content(), path
    for path in [f"/api/files?contributor={PUBLISHER}", f"/api/statement?contributor_id={PUBLISHER}",
                 f"/statements.csv?contributor={PUBLISHER}", f"/?contributor={PUBLISHER}"]:
        answer = bob.request.get(base + path)
        assert PUBLISHER not in answer.text() and "2024-petitions-part1" not in answer.text(), path
    own = bob.evaluate("fetch('/api/files').then(r => r.json())")
    assert own["contributor_id"] == "bob-press" and {f["file"] for f in own["files"]} == {"scan.txt", "청원-모음.jsonl"}
    assert not problems, problems

    # A landing page with removed documents (the README's screenshot) in Korean, the operator's view in English.
    archivist = chromium.new_context(locale="ko-KR", viewport={"width": 1200, "height": 900}).new_page()
    _sign_in(archivist, base, "archivist", "archivist-password")
    assert "데이터 기여 비율" in archivist.content() and archivist.locator("#removed tr").count() >= 2
    assert PUBLISHER not in archivist.content() and "bob-press" not in archivist.content()
    if shots:
        archivist.screenshot(path=str(shots / "portal-dashboard.png"), full_page=True)
    ops = chromium.new_context(locale="en-US", viewport={"width": 1200, "height": 900}).new_page()
    _sign_in(ops, base, "ops")
    assert ops.url == base + "/operator"
    row = ops.locator("#contributors tr", has_text="bob-press")
    assert f"{tokens:,}" in row.inner_text()
    ops.locator("#months button", has_text="Mark paid").first.click()
    ops.wait_for_load_state()
    assert "is marked paid" in ops.content() and ops.locator("#months .pill.paid").count() == 1
    if shots:
        ops.screenshot(path=str(shots / "portal-operator.png"), full_page=True)


def test_club_money_pages_in_a_real_browser(server, chromium, home):
    """The 1T Club's money pages as people use them: a contributor disputes a closed month and enters bank details
    (Korean), two operators answer, confirm, prepare and approve a payment run (English), and the contributor sees
    the answer; nothing is blocked by the page's policy."""
    from onett_portal.auth import add_account
    from onett_portal.store import PortalStore

    add_account(PortalStore(home / "portal.sqlite"), "ops2", "operator", "second-operator")
    base = server
    problems = []

    def page(locale: str):
        p = chromium.new_context(locale=locale, viewport={"width": 1200, "height": 900}).new_page()
        p.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
        return p

    alice = page("ko-KR")
    _sign_in(alice, base, "alice")
    card = alice.locator("#api-credit")  # the demo partner's free API tokens: granted = used + left (+ expired)
    assert "무료 API 토큰" in card.inner_text()
    granted, used, left = (int(card.locator(f"#credit-{k} dd").get_attribute("data-tokens"))
                           for k in ("granted", "used", "left"))
    assert granted > 0 and used > 0 and 0 <= left <= granted - used
    month = re.findall(r"/statements/(\d{4}-\d{2})", alice.content())[-1]
    alice.goto(f"{base}/statements/{month}")
    alice.fill("form.dispute-open textarea[name=message]", "3월호 원고가 빠진 것 같습니다")
    alice.click("form.dispute-open button[type=submit]")
    alice.wait_for_load_state()
    assert "/disputes" in alice.url and "보냈습니다" in alice.content() and "답변 대기" in alice.content()

    alice.goto(base + "/payee")
    alice.fill("input[name=bank]", "국민은행")
    alice.fill("input[name=holder]", "한빛출판사")
    alice.fill("input[name=account]", "123456-78-901234")
    alice.click("form[action='/payee'] button[type=submit]")
    alice.wait_for_load_state()
    assert "****1234" in alice.content() and "123456-78-901234" not in alice.content()

    ops = page("en-US")
    _sign_in(ops, base, "ops")
    ops.goto(base + "/operator/disputes")
    ops.fill("form.resolve textarea[name=message]", "The March issue was dropped by mistake")
    ops.check("form.resolve input[value=adjustment]")
    ops.fill("form.resolve input[name=amount]", "5000")
    ops.click("form.resolve button[type=submit]")
    ops.wait_for_load_state()
    assert "The dispute is resolved." in ops.content()

    ops.goto(base + "/operator/payments")
    ops.click(f"#payees-unconfirmed tr[data-contributor='{PUBLISHER}'] button[type=submit]")
    ops.wait_for_load_state()
    ops.select_option("form[action='/operator/payments/prepare'] select[name=month]", month)
    ops.click("form[action='/operator/payments/prepare'] button[type=submit]")
    ops.wait_for_load_state()
    run_url = ops.url
    assert re.search(r"/operator/payments/\d+", run_url)
    assert ops.locator("#run-state").get_attribute("data-state") == "prepared"
    ops.click("form[action$='/approve'] button[type=submit]")  # the preparer may not approve
    ops.wait_for_load_state()
    assert ops.locator("#run-state").get_attribute("data-state") == "prepared"
    assert ops.locator(".note.error").count() == 1

    second = page("en-US")
    _sign_in(second, base, "ops2", "second-operator")
    second.goto(run_url)
    second.click("form[action$='/approve'] button[type=submit]")
    second.wait_for_load_state()
    assert second.locator("#run-state").get_attribute("data-state") == "approved"
    with second.expect_download() as download:
        second.click("form[action$='/export'] button[value=pain001]")
    assert download.value.suggested_filename.endswith(".xml")
    assert b"pain.001.001.09" in Path(download.value.path()).read_bytes()

    alice.goto(base + "/disputes")
    assert "종료: 조정" in alice.content() and "The March issue was dropped by mistake" in alice.content()
    assert not problems, problems
