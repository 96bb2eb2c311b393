"""Disputes in the portal: a contributor disputes a closed month from its statement (never an open month, never
for someone else), follows the thread in Korean or English; the operator answers and resolves by adjustment, which
the next close pays; another contributor sees none of it."""

from __future__ import annotations

import re
from datetime import datetime

import duckdb

from portal.conftest import PUBLISHER, onett_cli


def _closed_months(home) -> list[str]:
    conn = duckdb.connect(str(home / "onett.duckdb"), read_only=True)
    try:
        return [f"{r[0]:%Y-%m}" for r in conn.execute(
            "SELECT period FROM payouts WHERE contributor_id = ? ORDER BY 1", [PUBLISHER]).fetchall()]
    finally:
        conn.close()


def _section(page) -> str:
    found = re.search(r'<section class="card no-print" id="disputes">.*?</section>', page.text, re.S)
    assert found, page.text[:2000]
    return found.group(0)


def test_a_contributor_disputes_a_closed_month_and_the_operator_resolves_it(home, browser):
    month = _closed_months(home)[-1]
    alice, bob, ops = browser("alice"), browser("bob"), browser("ops", lang="en")
    form = _section(alice.get(f"/statements/{month}"))
    assert f'action="/statements/{month}/dispute"' in form and f'value="{alice.csrf}"' in form

    assert alice.post(f"/statements/{month}/dispute", data={"csrf": "forged", "message": "x"}).status_code == 404
    empty = alice.post(f"/statements/{month}/dispute", data={"csrf": alice.csrf, "message": "  "})
    assert empty.status_code == 400 and "내용을 적어 주세요." in empty.text
    open_month = alice.post("/statements/2099-01/dispute", data={"csrf": alice.csrf, "message": "미리"})
    assert open_month.status_code == 400 and "아직 마감되지 않은 달입니다" in open_month.text
    assert alice.post("/statements/0000-01/dispute", data={"csrf": alice.csrf, "message": "x"}).status_code == 404

    sent = alice.post(f"/statements/{month}/dispute",
                      data={"csrf": alice.csrf, "message": "3장이 빠졌습니다 <b>확인</b>", "contributor_id": "bob-press"})
    assert sent.status_code == 303 and sent.headers["location"].startswith("/disputes?sent=1#dispute-")
    dispute_id = int(sent.headers["location"].rsplit("-", 1)[1])
    page = alice.get("/disputes?sent=1").text
    assert "보냈습니다." in page and "3장이 빠졌습니다 &lt;b&gt;확인&lt;/b&gt;" in page and "답변 대기" in page
    again = alice.post(f"/statements/{month}/dispute", data={"csrf": alice.csrf, "message": "또"})
    assert again.status_code == 400 and "이미 진행 중입니다" in again.text
    assert 'id="no-disputes"' in bob.get("/disputes").text  # bob sees nothing of alice's
    assert bob.post(f"/disputes/{dispute_id}/reply", data={"csrf": bob.csrf, "message": "끼어들기"}).status_code == 404
    assert alice.get("/operator/disputes").status_code == 404

    listed = ops.get("/operator/disputes").text
    assert f'data-dispute="{dispute_id}"' in listed and PUBLISHER in listed and "waiting for an answer" in listed
    assert ops.post(f"/operator/disputes/{dispute_id}/answer",
                    data={"csrf": ops.csrf, "message": "Checking chapter 3"}).status_code == 303
    assert "운영자 답변" in alice.get("/disputes").text and "Checking chapter 3" in alice.get("/disputes").text
    assert alice.post(f"/disputes/{dispute_id}/reply", data={"csrf": alice.csrf, "message": "감사합니다"}
                      ).status_code == 303

    unsure = ops.post(f"/operator/disputes/{dispute_id}/resolve",
                      data={"csrf": ops.csrf, "resolution": "adjustment", "amount": "12.5", "message": "partly"})
    assert unsure.status_code == 400 and "0 decimal places" in unsure.text and 'value="12.5"' in unsure.text
    resolved = ops.post(f"/operator/disputes/{dispute_id}/resolve",
                        data={"csrf": ops.csrf, "resolution": "adjustment", "amount": "5,000",
                              "message": "Chapter 3 was dropped by mistake"})
    assert resolved.status_code == 303
    assert "The dispute is resolved." in ops.get(resolved.headers["location"]).text
    mine = alice.get("/disputes").text
    assert "종료: 조정 5,000" in mine and "다음에 마감되는 달의 지급에 더해집니다" in mine
    assert f'action="/disputes/{dispute_id}/reply"' not in mine  # resolved: no more replies
    english = browser("alice", lang="en").get(f"/statements/{month}")
    assert "resolved: adjustment of" in _section(english) and "Chapter 3 was dropped by mistake" in _section(english)

    from onett_resources import load_settings

    current = datetime.now(load_settings().policy.tz).date().replace(day=1)
    assert f"{current:%Y-%m}" > month
    onett_cli(home, "close", f"{current:%Y-%m}")  # the next close pays the adjustment
    conn = duckdb.connect(str(home / "onett.duckdb"), read_only=True)
    try:
        assert conn.execute("SELECT contributor_id, amount, source, applied_in FROM payout_adjustments "
                            "WHERE source = 'dispute'").fetchall() == [
            (PUBLISHER, 5000, "dispute", current)]
        carried = conn.execute("SELECT adjustment FROM payouts WHERE period = ? AND contributor_id = ?",
                               [current, PUBLISHER]).fetchone()[0]
    finally:
        conn.close()
    assert carried == 5000
