"""The 1T Club's API credit in the portal, on the demo platform (its partners' usage feed loaded and its ended
months closed): the dashboard card in Korean and English, the contributor's own ledger CSV and nobody else's,
and the operator's billable usage per partner."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import duckdb

from portal.conftest import PUBLISHER


def _section(home, contributor: str) -> dict:
    from onett_domain.api_credit import credit_section
    from onett_resources import load_settings

    conn = duckdb.connect(str(home / "onett.duckdb"), read_only=True)
    try:
        return credit_section(conn, contributor, load_settings().policy)
    finally:
        conn.close()


def _card(page) -> str:
    found = re.search(r'<section class="card api-credit" id="api-credit">.*?</section>', page.text, re.S)
    assert found, page.text[:3000]
    return found.group(0)


def _figure(card: str, name: str) -> int:
    return int(re.search(rf'id="credit-{name}"><dt>[^<]*</dt><dd data-tokens="(\d+)">', card).group(1))


def test_the_card_shows_granted_used_left_and_expiring_next(home, browser):
    mine = _section(home, PUBLISHER)
    # the demo's publisher was granted its first month's tokens and used them in the next
    assert mine["granted"] > mine["used"] > 0 and mine["left"] == mine["granted"] - mine["used"] - mine["expired"]
    card = _card(browser("alice").get("/"))
    assert (_figure(card, "granted"), _figure(card, "used"), _figure(card, "left")) == (
        mine["granted"], mine["used"], mine["left"])
    nxt = mine["expiring_next"]
    on = date.fromisoformat(nxt["on"])
    assert "무료 API 토큰" in card and f"{on.year}년 {on.month}월 {on.day}일에 {nxt['tokens']:,}개" in card
    assert f"{mine['granted']:,}" in card and "12개월 뒤에 만료됩니다" in card
    value = f"{int(mine['value_used']):,}원"
    assert f"사용한 무료 토큰의 가치: {value}" in card and 'href="/credit.csv"' in card

    english = _card(browser("alice", lang="en").get("/"))
    assert "Free API tokens" in english and f"{nxt['tokens']:,} on {on.strftime('%-d %b %Y')}" in english
    assert f"Value of the free tokens used: ₩{int(mine['value_used']):,}" in english
    assert "They expire 12 months later." in english


def test_a_contributor_downloads_only_their_own_ledger(home, browser):
    alice, bob = browser("alice"), browser("bob")
    response = alice.get("/credit.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0] == ["month", "entry", "corrects", "grant", "credit", "billable", "expires_on", "balance", "note"]
    mine = _section(home, PUBLISHER)
    assert int(rows[-1][7]) == mine["left"]  # the running balance ends at what is left
    assert sum(int(r[4]) for r in rows[1:] if r[1] == "grant") == mine["granted"]

    # bob has no credit: his CSV is empty whatever he asks for, and his dashboard shows no card
    for path in ("/credit.csv", f"/credit.csv?contributor={PUBLISHER}", "/credit.csv?contributor_id=moby-dick-club"):
        theirs = bob.get(path)
        assert theirs.status_code == 200 and theirs.text.lstrip("\ufeff").splitlines() == [",".join(rows[0])], path
    assert 'id="api-credit"' not in bob.get("/").text
    # the operator's pages are not a contributor's
    assert alice.get("/operator/credit").status_code == 404
    month = date.today().strftime("%Y-%m")
    assert alice.get(f"/operator/credit/{month}.csv").status_code == 404
    assert browser().get("/credit.csv").status_code == 303  # signed out: to the sign-in page


def test_the_operator_exports_billable_usage_per_partner(home, browser):
    ops = browser("ops")
    conn = duckdb.connect(str(home / "onett.duckdb"), read_only=True)
    try:
        month = conn.execute("SELECT max(period) FROM api_credit_ledger WHERE entry = 'usage'").fetchone()[0]
        used = dict(conn.execute(
            "SELECT contributor_id, sum(input_tokens + output_tokens)::BIGINT FROM api_usage WHERE "
            "date_trunc('month', date) = ? GROUP BY 1", [month]).fetchall())
        credited = dict(conn.execute(
            "SELECT contributor_id, -sum(credit) FROM api_credit_ledger WHERE period = ? AND entry = 'usage' "
            "GROUP BY 1", [month]).fetchall())
    finally:
        conn.close()
    assert set(used) >= {PUBLISHER, "판례연구회"}  # the legal research group reports through api keys
    page = ops.get(f"/operator/credit?month={month:%Y-%m}")
    assert page.status_code == 200
    table = re.search(r'<table id="credit-billable">.*?</table>', page.text, re.S).group(0)
    assert PUBLISHER in table and f"{used[PUBLISHER]:,}" in table
    assert ops.get("/operator/credit?month=2026-13").status_code == 404

    response = ops.get(f"/operator/credit/{month:%Y-%m}.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    by = {r["contributor_id"]: r for r in rows}
    assert set(by) == set(used)
    for contributor, total in used.items():
        r = by[contributor]
        assert int(r["used_tokens"]) == total
        assert int(r["credited_tokens"]) == credited.get(contributor, 0)
        assert int(r["credited_tokens"]) + int(r["billable_tokens"]) == total  # usage is credited or billable
        assert r["period"] == f"{month:%Y-%m}" and r["currency"] == "KRW"


def test_the_operator_sees_what_the_usage_feed_holds_wrong(home, browser):
    ops = browser("ops")
    assert 'id="usage-feed-errors"' not in ops.get("/operator/credit").text  # the demo's feed is clean
    feed = home / "usage" / "late.csv"
    feed.write_text("date,contributor_id,input_tokens,output_tokens\n"
                    "2026-10-03,nobody-we-know,10,5\n"
                    "2026-10-04,한빛출판사,ten,5\n", encoding="utf-8")
    page = ops.get("/operator/credit?lang=ko").text
    errors = re.search(r'<section class="card" id="usage-feed-errors">.*?</section>', page, re.S).group(0)
    assert "고칠 곳이 2개" in errors
    assert "late.csv line 3: input_tokens &#39;ten&#39; is not a non-negative whole number" in errors
    assert "late.csv line 2: contributor &#39;nobody-we-know&#39; is not known to the platform" in errors
