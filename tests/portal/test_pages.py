"""The portal's pages on the demo platform: sign-in, the contributor's numbers (the same as `onett statement`),
statements, the operator's view, revenue upload, languages and the headers that keep it offline."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from portal.conftest import PUBLISHER


def statement_of(home: Path, contributor: str) -> dict:
    from onett_domain.statement import build_statement
    from onett_resources import load_settings

    settings = load_settings()
    conn = duckdb.connect(str(home / "onett.duckdb"), read_only=True)
    try:
        return build_statement(conn, contributor, settings.policy, datetime.now(settings.policy.tz).date())
    finally:
        conn.close()


def test_sign_in_required_and_wrong_passwords_limited(browser):
    anonymous = browser()
    for path in ["/", "/uploads", "/operator", "/statements/2026-10", "/statements.csv"]:
        response = anonymous.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    assert anonymous.get("/api/files").status_code == 401
    assert anonymous.get("/api/statement").json() == {"error": "sign in first"}

    failed = anonymous.login("alice", "wrong password")
    assert failed.status_code == 401 and "계정 이름 또는 비밀번호가 올바르지 않습니다" in failed.text
    for _ in range(4):
        anonymous.login("alice", "wrong password")
    locked = anonymous.login("alice")  # the right password, but too many failures just now
    assert locked.status_code == 429
    assert re.search(r"로그인 시도가 너무 많습니다. [1-9]초 후에 다시 시도하세요", locked.text)
    english = browser(lang="en-US,en;q=0.9")
    assert re.search(r"Too many attempts; try again in \d+ second", english.login("alice").text)

    # A sign-in form posted without the token of the form it came from is refused.
    forged = anonymous.post("/login", data={"name": "bob", "password": "bob-password", "csrf": "forged"})
    assert forged.status_code == 400 and "양식이 만료" in forged.text


def test_session_cookie_and_sign_out(browser):
    bob = browser()
    response = bob.login("bob")
    cookie = response.headers["set-cookie"]
    assert "onett_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Max-Age=28800" in cookie  # 8 hours
    assert bob.get("/").status_code == 200
    # Signing out needs the session's CSRF token, then the old cookie is worthless.
    assert bob.post("/logout", data={"csrf": "wrong"}).status_code == 404
    assert bob.get("/").status_code == 200
    assert bob.post("/logout", data={"csrf": bob.csrf}).status_code == 303
    bob.client.cookies.set("onett_session", cookie.split("onett_session=")[1].split(";")[0])
    assert bob.get("/").status_code == 303


def test_contributor_dashboard_shows_the_statement_numbers(home, browser):
    st = statement_of(home, PUBLISHER)
    page = browser("alice").get("/")
    assert page.status_code == 200
    text = page.text
    for label in ["데이터 기여 비율", "기여 토큰 수", "현재 보상액", "예상 지급액"]:
        assert label in text
    assert f"{st['contribution_tokens']:,}" in text
    assert f"{Decimal(st['current_reward']):,.0f}원" in text
    assert f"{Decimal(st['expected_payout']['amount']):,.0f}원" in text
    assert f"{Decimal(st['contribution_ratio']) * 100:.4f}%" in text
    # The funnel chart, the revenue chart, the expected payout's date and method, the history with statements.
    assert '<svg class="chart funnel"' in text and '<svg class="chart daily"' in text
    payout_date = date.fromisoformat(st["expected_payout"]["payout_date"])
    assert f"{payout_date.year}년 {payout_date.month}월 {payout_date.day}일 03:00" in text
    assert "추정 방법" in text
    for h in st["payout_history"]:
        assert f'/statements/{h["period"]}' in text and f'/statements/{h["period"]}/csv' in text
    # The JSON behind it is the same statement, own data only.
    api = browser("alice").get("/api/statement").json()
    assert api["contribution_tokens"] == st["contribution_tokens"]
    assert api["expected_payout"]["amount"] == st["expected_payout"]["amount"]


def test_a_new_contributor_sees_an_empty_dashboard(browser):
    page = browser("bob").get("/")
    assert page.status_code == 200 and "아직 처리된 업로드가 없습니다" in page.text
    assert PUBLISHER not in page.text


def test_languages(browser):
    english = browser("alice", lang="en-US,en;q=0.9")
    page = english.get("/")
    assert "Data contribution ratio" in page.text and '<html lang="en">' in page.text and "₩" in page.text
    korean = english.get("/?lang=ko")
    assert "데이터 기여 비율" in korean.text and "lang=ko" in korean.headers["set-cookie"]
    assert "데이터 기여 비율" in english.get("/").text  # remembered
    assert '<html lang="ko">' in browser("alice", lang="fr").get("/").text  # Korean by default


def test_statements_csv_and_printable(home, browser):
    st = statement_of(home, PUBLISHER)
    alice = browser("alice")
    month = st["payout_history"][-1]
    printable = alice.get(f"/statements/{month['period']}")
    assert printable.status_code == 200 and "지급 명세서" in printable.text and "@media print" not in printable.text
    assert f"{Decimal(month['amount']):,.0f}원" in printable.text
    one = alice.get(f"/statements/{month['period']}/csv")
    assert one.headers["content-type"].startswith("text/csv") and "attachment" in one.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(one.text.lstrip("\ufeff"))))
    assert len(rows) == 1 and rows[0]["contributor_id"] == PUBLISHER and rows[0]["amount"] == month["amount"]
    assert rows[0]["currency"] == "KRW" and rows[0]["state"] == "closed"
    every = list(csv.DictReader(io.StringIO(alice.get("/statements.csv").text.lstrip("\ufeff"))))
    assert [r["period"] for r in every] == [h["period"] for h in st["payout_history"]]
    assert alice.get("/statements/2020-01").status_code == 404
    assert alice.get("/statements/not-a-month").status_code == 404


def test_operator_sees_everyone_and_marks_months_paid(home, browser):
    ops = browser("ops")
    page = ops.get("/operator")
    assert page.status_code == 200
    contributors = [r[0] for r in duckdb.connect(str(home / "onett.duckdb"), read_only=True).execute(
        "SELECT DISTINCT contributor_id FROM uploads").fetchall()]
    for c in contributors:
        assert c in page.text
    assert "http://127.0.0.1:3000/assets/payouts?view=partitions&amp;partition=" in page.text
    closed = [m for m in re.findall(r'action="/operator/months/(\d{4}-\d{2})/paid"', page.text)]
    assert closed, "the demo has closed months"
    assert ops.post(f"/operator/months/{closed[0]}/paid", data={"csrf": "wrong"}).status_code == 404
    marked = ops.post(f"/operator/months/{closed[0]}/paid", data={"csrf": ops.csrf})
    assert marked.status_code == 303
    page = ops.get("/operator")
    assert f'action="/operator/months/{closed[0]}/paid"' not in page.text and "지급 완료" in page.text
    this_month = datetime.now().strftime("%Y-%m")
    assert ops.post(f"/operator/months/{this_month}/paid", data={"csrf": ops.csrf}).headers["location"] == "/operator?marked=open"
    # The contributor's statement shows the month as paid now.
    assert "지급 완료" in browser("alice").get(f"/statements/{closed[0]}").text
    # The operator can open any contributor's page and statements, and the JSON of it all.
    assert PUBLISHER in ops.get(f"/operator/contributors/{PUBLISHER}").text
    assert ops.get(f"/operator/contributors/{PUBLISHER}/statements/{closed[0]}").status_code == 200
    assert ops.get("/operator/contributors/nobody").status_code == 404
    api = ops.get("/api/operator").json()
    assert {c["contributor_id"] for c in api["contributors"]} == set(contributors)
    assert {m["period"]: m["state"] for m in api["months"]}[closed[0]] == "paid"


def test_revenue_upload(home, browser):
    ops = browser("ops")
    good = b"date,requests,input_tokens,output_tokens,revenue\n2031-01-01,10,100,200,1234.5\n2031-01-02,11,110,210,99\n"
    response = ops.upload([("january.csv", good)], path="/operator/revenue")
    assert response.status_code == 200, response.text
    assert (home / "revenue" / "january.csv").read_bytes() == good
    again = ops.upload([("january-again.csv", good)], path="/operator/revenue")
    assert again.status_code == 400 and "2031-01-01 is already reported in january.csv" in again.json()["message"]
    bad = ops.upload([("broken.csv", b"day,amount\n2031-02-01,5\n")], path="/operator/revenue")
    assert bad.status_code == 400 and "header must be" in bad.json()["message"]
    assert ops.upload([("usage.xlsx", b"PK..")], path="/operator/revenue").status_code == 400
    assert sorted(p.name for p in (home / "revenue").iterdir()) == sorted(
        [p.name for p in (home / "revenue").iterdir() if not p.name.startswith(".")])
    assert not (home / "revenue" / "january-again.csv").exists() and not (home / "revenue" / "broken.csv").exists()
    page = ops.get("/operator/revenue")
    assert "january.csv" in page.text and "적재 대기" in page.text
    # Contributors cannot reach it.
    assert browser("alice").upload([("x.csv", good)], path="/operator/revenue").status_code == 404


def test_security_headers_and_nothing_from_elsewhere(browser):
    alice = browser("alice")
    page = alice.get("/")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["cache-control"] == "no-store" and page.headers["x-content-type-options"] == "nosniff"
    for path in ["/", "/uploads", "/statements/2026-10", "/login"]:
        html = alice.get(path).text
        assert not re.search(r'(src|href)="(https?:)?//', html), path
    assert "127.0.0.1:3000" not in alice.get("/").text  # contributors are not sent to the Dagster UI
    ops_view = browser("ops").get(f"/operator/contributors/{PUBLISHER}").text
    assert "http://127.0.0.1:3000/assets/token_counts?view=lineage&amp;lineageScope=upstream" in ops_view
    for asset in ["/static/portal.css", "/static/portal.js"]:
        body = alice.get(asset).text
        assert alice.get(asset).status_code == 200 and "http://" not in body and "https://" not in body
