"""1T Club membership in the portal: a contributor sees their words against the threshold and applies once past it
(the words read from the warehouse when applying, the account from the session), an operator approves or declines
with a reason the contributor then reads, and nobody else can apply for them or decide."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime

import duckdb
import pytest

from portal.conftest import PUBLISHER, Browser, add_accounts

HOLDER = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1])
conn.execute("BEGIN TRANSACTION")
conn.execute("UPDATE documents SET words = words")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
conn.close()
"""


def _words(home, contributor: str) -> int:
    from onett_domain.membership import progress

    conn = duckdb.connect(str(home / "onett.duckdb"), read_only=True)
    try:
        found = progress(conn, 1, contributor)
    finally:
        conn.close()
    return found[0].words if found else 0


def _registry():
    from onett_resources import ConsentRegistry, load_settings

    return ConsentRegistry(path=str(load_settings().consent))


def _today_ko() -> str:
    from onett_resources import load_settings

    d = datetime.now(load_settings().policy.tz).date()
    return f"{d.year}년 {d.month}월 {d.day}일"


def _card(page) -> str:
    found = re.search(r'<section class="card membership" id="membership">.*?</section>', page.text, re.S)
    assert found, page.text[:2000]
    return found.group(0)


@pytest.fixture
def club(home, monkeypatch):
    """The portal with a threshold just below the publisher's words (alice may apply, bob has none), built after
    the environment says so, as the service reads its settings once at start."""
    words = _words(home, PUBLISHER)
    assert words > 1000
    monkeypatch.setenv("ONETT_MEMBERSHIP_WORDS", str(words - 1))
    from onett_portal.app import create_app

    add_accounts(home)
    app = create_app()

    def make(name: str, lang: str = "ko") -> Browser:
        who = Browser(app, lang)
        assert who.login(name).status_code == 303
        return who

    make.words = words
    return make


def test_below_the_threshold_progress_and_no_way_to_apply(home, browser):
    words = _words(home, PUBLISHER)
    alice = browser("alice")
    card = _card(alice.get("/"))
    assert f"기여한 단어 {words:,}개 / 기준 100,000,000개" in card
    assert re.search(r'<progress class="club" max="1000000" value="\d+"', card)
    assert 'data-status="not_eligible"' in card and f"단어가 {100_000_000 + 1 - words:,}개 더 필요합니다" in card
    assert 'id="membership-form"' not in card and 'action="/membership/apply"' not in card

    forged = alice.post("/membership/apply", data={"csrf": alice.csrf, "message": "받아 주세요"})
    assert forged.status_code == 400
    assert f"기여한 단어가 100,000,000개를 넘어야 합니다 (지금 {words:,}개)" in forged.text
    assert alice.post("/membership/apply", data={"csrf": "forged"}).status_code == 404
    assert _registry().applications() == []


def test_an_eligible_contributor_applies_and_an_operator_approves(club):
    alice, bob, ops = club("alice"), club("bob"), club("ops")
    card = _card(alice.get("/"))
    assert 'data-status="eligible"' in card and 'id="membership-form"' in card
    assert f'name="csrf" value="{alice.csrf}"' in card
    assert 'id="membership-form"' not in _card(bob.get("/"))  # no words of his own yet

    applied = alice.post("/membership/apply", data={"csrf": alice.csrf, "message": "출판사 전체 원고입니다",
                                                    "contributor_id": "bob-press"})
    assert applied.status_code == 303 and applied.headers["location"] == "/?membership=applied#membership"
    (application,) = _registry().applications()
    assert (application.contributor_id, application.applied_by, application.words, application.message,
            application.decision) == (PUBLISHER, "alice", club.words, "출판사 전체 원고입니다", "pending")
    card = _card(alice.get("/?membership=applied"))
    assert "신청했습니다. 운영자가 결정하면 여기에 나옵니다." in card
    assert 'data-status="pending"' in card and f"{_today_ko()}에 신청했습니다" in card
    assert 'id="membership-form"' not in card
    again = alice.post("/membership/apply", data={"csrf": alice.csrf})
    assert again.status_code == 400 and "아직 결정을 기다리고 있습니다" in again.text
    assert len(_registry().applications()) == 1

    page = ops.get("/operator/membership")
    assert page.status_code == 200
    pending = re.search(r'<table id="membership-pending">.*?</table>', page.text, re.S).group(0)
    assert PUBLISHER in pending and "출판사 전체 원고입니다" in pending and f"{club.words:,}" in pending
    assert f'action="/operator/membership/{application.id}"' in pending and f'value="{ops.csrf}"' in pending
    everyone = re.search(r'<table id="membership-contributors">.*?</table>', page.text, re.S).group(0)
    for contributor in [PUBLISHER, "moby-dick-club", "bob-press"]:
        assert f'data-contributor="{contributor}"' in everyone, contributor
    assert "결정 대기" in everyone and "자격 없음" in everyone

    path = f"/operator/membership/{application.id}"
    no_reason = ops.post(path, data={"csrf": ops.csrf, "decision": "approve", "reason": "  "})
    assert no_reason.status_code == 400 and "결정 이유를 적어 주세요" in no_reason.text
    unsure = ops.post(path, data={"csrf": ops.csrf, "decision": "maybe", "reason": "글쎄요"})
    assert unsure.status_code == 400 and ">글쎄요</textarea>" in unsure.text  # the reason typed is kept
    assert ops.post(path, data={"csrf": "forged", "decision": "approve", "reason": "x"}).status_code == 404
    assert _registry().applications()[0].decision == "pending"

    approved = ops.post(path, data={"csrf": ops.csrf, "decision": "approve", "reason": "계약서 서명 완료"})
    assert approved.status_code == 303
    assert approved.headers["location"] == f"/operator/membership?decided={application.id}"
    decided = ops.get(approved.headers["location"]).text
    assert f"{PUBLISHER}의 신청을 승인했습니다." in decided and "계약서 서명 완료" in decided
    assert "결정을 기다리는 신청이 없습니다." in decided
    twice = ops.post(path, data={"csrf": ops.csrf, "decision": "decline", "reason": "다시"})
    assert twice.status_code == 400 and "already approved" in twice.text
    assert _registry().members() == frozenset({PUBLISHER})

    card = _card(alice.get("/"))
    assert 'data-status="member"' in card and f"회원입니다: {_today_ko()}에 ops 님이 승인했습니다." in card
    assert 'id="membership-form"' not in card
    member = alice.post("/membership/apply", data={"csrf": alice.csrf})
    assert member.status_code == 400 and "이미 회원입니다" in member.text
    english = _card(club("alice", lang="en").get("/"))
    assert re.search(r"Member: approved on \d{1,2} \w{3} \d{4} by ops\.", english)


def test_a_declined_application_shows_the_reason_and_may_be_made_again(club):
    alice, ops = club("alice"), club("ops")
    assert alice.post("/membership/apply", data={"csrf": alice.csrf}).status_code == 303
    (application,) = _registry().applications()
    declined = ops.post(f"/operator/membership/{application.id}",
                        data={"csrf": ops.csrf, "decision": "decline", "reason": "권리 확인 서류가 <필요>합니다"})
    assert declined.status_code == 303
    page = ops.get(declined.headers["location"]).text
    assert f"{PUBLISHER}의 신청을 거절했습니다." in page and "권리 확인 서류가 &lt;필요&gt;합니다" in page

    card = _card(alice.get("/"))
    assert 'data-status="declined"' in card
    assert f"{_today_ko()}에 ops 님이 신청을 거절했습니다. 이유: 권리 확인 서류가 &lt;필요&gt;합니다" in card
    assert "다시 신청할 수 있습니다." in card and 'id="membership-form"' in card
    assert alice.post("/membership/apply", data={"csrf": alice.csrf}).status_code == 303
    assert [a.decision for a in _registry().applications()] == ["declined", "pending"]


def test_only_operators_decide_and_only_contributors_apply(club):
    alice, bob, ops = club("alice"), club("bob"), club("ops")
    assert alice.post("/membership/apply", data={"csrf": alice.csrf}).status_code == 303
    (application,) = _registry().applications()
    for who in (alice, bob):
        page = who.get("/operator/membership")
        assert page.status_code == 404 and "찾을 수 없습니다" in page.text and PUBLISHER not in page.text
        decide = who.post(f"/operator/membership/{application.id}",
                          data={"csrf": who.csrf, "decision": "approve", "reason": "제가 승인합니다"})
        assert decide.status_code == 404
    assert ops.post("/membership/apply", data={"csrf": ops.csrf}).status_code == 404
    assert ops.post("/operator/membership/999", data={"csrf": ops.csrf, "decision": "approve",
                                                      "reason": "x"}).status_code == 400
    assert ops.post("/operator/membership/abc", data={"csrf": ops.csrf}).status_code == 404
    assert [(a.decision, a.decided_by) for a in _registry().applications()] == [("pending", None)]
    # bob's form fields cannot make him apply as alice: the contributor comes from the session
    refused = bob.post("/membership/apply", data={"csrf": bob.csrf, "contributor_id": PUBLISHER})
    assert refused.status_code == 400 and len(_registry().applications()) == 1

    home = ops.get("/operator").text
    assert 'href="/operator/membership"' in home
    view = _card(ops.get(f"/operator/contributors/{PUBLISHER}"))
    assert 'data-status="pending"' in view and 'href="/operator/membership"' in view
    assert 'id="membership-form"' not in view


def test_the_card_in_korean_and_english_with_a_share_for_members_only(home, monkeypatch):
    monkeypatch.setenv("ONETT_SHARE_REQUIRES_MEMBERSHIP", "1")
    from onett_portal.app import create_app

    add_accounts(home)
    app = create_app()
    alice = Browser(app, "ko")
    assert alice.login("alice").status_code == 303
    card = _card(alice.get("/"))
    for text in ["1T 클럽 회원", "기준 100,000,000개", "어절", "하나가 한 단어입니다", "자격 없음",
                 "기여한 단어가 100,000,000개를 넘으면 회원 가입을 신청할 수 있고, 운영자가 승인합니다.",
                 "매출 배분은 1T 클럽 회원에게만 지급됩니다."]:
        assert text in card, text
    assert "words contributed" not in card and "eojeol" not in card
    english = _card(alice.get("/?lang=en"))
    for text in ["1T Club membership", "of 100,000,000 words contributed", "a Korean eojeol",
                 "The revenue share is paid to 1T Club members only.", "Not eligible yet"]:
        assert text in english, text


def test_an_application_waits_while_the_warehouse_is_written(club, home):
    alice = club("alice")
    assert alice.get("/").status_code == 200  # the dashboard is read before the writer starts
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(home / "onett.duckdb"), "6"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        response = alice.post("/membership/apply", data={"csrf": alice.csrf})
        assert response.status_code == 303 and response.headers["location"] == "/?membership=busy#membership"
        assert _registry().applications() == []
    finally:
        holder.wait(timeout=30)
    card = _card(alice.get("/?membership=busy"))
    assert "지금은 단어 수를 확인할 수 없습니다" in card and 'id="membership-form"' in card
    assert alice.post("/membership/apply", data={"csrf": alice.csrf}).status_code == 303
    assert [a.words for a in _registry().applications()] == [club.words]
