"""Payments in the portal: a contributor enters bank details for themselves only (shown masked, confirmation reset
on change), an operator confirms them, prepares a closed month's run, a second operator approves it (the preparer
cannot), the pain.001 file is downloaded and the bank statement uploaded; the contributor sees the payment."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

import duckdb
import pytest
from lxml import etree

from onett_domain.payments import PAIN001
from onett_portal.auth import add_account
from onett_portal.store import PortalStore
from onett_resources.payments import SCHEMA_FILE
from portal.conftest import PUBLISHER

NS = {"p": PAIN001}
DETAILS = {"bank": "KB국민은행", "holder": "한빛출판사", "account": "123-456-789012", "bank_code": "004"}


@pytest.fixture(autouse=True)
def paying_account(home, monkeypatch):
    """The platform's own account, named in pain.001 files; set before the portal reads its settings."""
    monkeypatch.setenv("ONETT_DEBTOR_ACCOUNT", "110-999-888777")
    monkeypatch.setenv("ONETT_DEBTOR_BANK", "088")


def _closed(home) -> list[str]:
    conn = duckdb.connect(str(home / "onett.duckdb"), read_only=True)
    try:
        return [p.strftime("%Y-%m") for (p,) in conn.execute("SELECT period FROM payout_periods ORDER BY 1").fetchall()]
    finally:
        conn.close()


def _owed(home, month: str) -> int:
    conn = duckdb.connect(str(home / "onett.duckdb"), read_only=True)
    try:
        (owed,) = conn.execute("SELECT coalesce(sum(amount + adjustment), 0) FROM payouts JOIN payout_periods "
                               "USING (period) WHERE contributor_id = ? AND period <= ?",
                               [PUBLISHER, f"{month}-01"]).fetchone()
    finally:
        conn.close()
    return int(owed)


def test_bank_details_are_the_contributors_own_and_masked(home, browser):
    alice = browser("alice")
    page = alice.get("/payee")
    assert page.status_code == 200 and "지급받을 계좌" in page.text and "아직 등록한 계좌가 없습니다" in page.text
    bad = alice.post("/payee", data={**DETAILS, "account": "123-4567", "csrf": alice.csrf})
    assert bad.status_code == 400 and "저장하지 못했습니다" in bad.text and "10 to 14 digits" in bad.text
    assert "123-4567" not in bad.text  # an account number is never echoed back
    assert alice.post("/payee", data={**DETAILS, "csrf": "wrong"}).status_code == 404
    # a contributor id in the form is ignored: details belong to the signed-in account
    saved = alice.post("/payee", data={**DETAILS, "contributor_id": "bob-press", "csrf": alice.csrf})
    assert saved.status_code == 303 and saved.headers["location"] == "/payee?saved=1"
    page = alice.get("/payee?saved=1")
    assert "****9012" in page.text and "확인 대기" in page.text and "123456789012" not in page.text
    assert "KB국민은행" in page.text and 'data-confirmed="no"' in page.text

    bob = browser("bob", "en")
    page = bob.get("/payee?lang=en")
    assert "You have entered no bank details yet" in page.text and "****9012" not in page.text
    assert "한빛출판사" not in page.text
    for path in ("/operator/payments", "/operator/payments/audit"):
        assert bob.get(path).status_code == 404
    assert bob.post(f"/operator/payees/{PUBLISHER}/confirm", data={"csrf": bob.csrf}).status_code == 404
    assert browser().get("/payee").status_code == 303  # signed out: to the sign-in page


def test_operator_flow_and_the_two_person_rule(home, browser, portal):
    add_account(PortalStore(home / "portal.sqlite"), "ops2", "operator", "second-operator-password")
    alice, ops = browser("alice"), browser("ops")
    ops2 = browser(lang="en")
    assert ops2.login("ops2", "second-operator-password").status_code == 303
    ops2.csrf = re.search(r'name="csrf" value="([^"]+)"', ops2.get("/operator").text).group(1)
    alice.post("/payee", data={**DETAILS, "csrf": alice.csrf})

    page = ops.get("/operator/payments")
    assert page.status_code == 200 and "확인할 계좌" in page.text and "****9012" in page.text
    confirmed = ops.post(f"/operator/payees/{PUBLISHER}/confirm", data={"csrf": ops.csrf})
    assert confirmed.status_code == 303
    assert 'data-confirmed="yes"' in alice.get("/payee").text

    this_month = datetime.now().strftime("%Y-%m")
    refused = ops.post("/operator/payments/prepare", data={"month": this_month, "csrf": ops.csrf})
    assert refused.status_code == 400 and "아직 마감되지 않아" in refused.text
    month = _closed(home)[-1]
    owed = _owed(home, month)
    assert owed >= 1000, "the demo publisher is owed more than the minimum payout"
    prepared = ops.post("/operator/payments/prepare", data={"month": month, "csrf": ops.csrf})
    assert prepared.status_code == 303
    run_path = prepared.headers["location"].split("?")[0]
    page = ops.get(run_path)
    assert f'data-contributor="{PUBLISHER}" data-status="pending"' in page.text
    assert 'data-status="held"' in page.text  # the others entered no bank details

    # the operator who prepared it cannot approve it; another one can
    same = ops.post(run_path + "/approve", data={"csrf": ops.csrf})
    assert same.status_code == 400 and "다른 운영자가 승인해야 합니다" in same.text
    assert 'data-state="prepared"' in ops.get(run_path).text
    approved = ops2.post(run_path + "/approve?lang=en", data={"csrf": ops2.csrf})
    assert approved.status_code == 200 and "is approved" in approved.text

    exported = ops.post(run_path + "/export", data={"format": "pain001", "csrf": ops.csrf})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/xml")
    document = etree.fromstring(exported.content)
    etree.XMLSchema(etree.parse(str(SCHEMA_FILE))).assertValid(document)
    (e2e,) = document.xpath("//p:CdtTrfTxInf[p:CdtrAcct/p:Id/p:Othr/p:Id='123456789012']/p:PmtId/p:EndToEndId/text()",
                            namespaces=NS)
    amount = document.xpath(f"//p:CdtTrfTxInf[p:PmtId/p:EndToEndId='{e2e}']/p:Amt/p:InstdAmt/text()", namespaces=NS)
    assert Decimal(amount[0]) == owed
    csv_file = ops.post(run_path + "/export", data={"format": "csv", "csrf": ops.csrf})
    assert csv_file.status_code == 200 and f"{e2e},{owed},KRW" in csv_file.text
    assert ops.post(run_path + "/cancel", data={"csrf": ops.csrf}).status_code == 400  # exported: too late

    header = "end_to_end_id,amount,currency,status,booked_on\n"
    bad = ops.post("/operator/payments/statements", data={"csrf": ops.csrf}, files={"statement": (
        "bad.csv", (header + f"{e2e},{owed + 1},KRW,paid,2026-12-03\nNOPE,1,KRW,paid,2026-12-03\n").encode())})
    assert bad.status_code == 400 and "문제 2건" in bad.text
    assert "line 2:" in bad.text and "line 3: NOPE: no payment has this end-to-end id" in bad.text
    good = ops.post("/operator/payments/statements", data={"csrf": ops.csrf}, files={"statement": (
        "good.csv", (header + f"{e2e},{owed},KRW,paid,2026-12-03\n").encode())})
    assert good.status_code == 200 and "지급 1건을 반영했습니다" in good.text

    dashboard = alice.get("/")
    assert 'id="payments"' in dashboard.text and 'data-status="paid"' in dashboard.text
    assert "2026년 12월 3일" in dashboard.text and "지급 완료" in dashboard.text
    assert "****9012" in alice.get("/payee").text
    audit = ops.get("/operator/payments/audit")
    for action in ("details entered", "details confirmed", "run prepared", "run approved", "run exported",
                   "payment paid", "bank statement imported"):
        assert action in audit.text
    # a change of details needs confirming again
    alice.post("/payee", data={**DETAILS, "account": "110-123-4567890", "csrf": alice.csrf})
    assert 'data-confirmed="no"' in alice.get("/payee").text
    assert "****7890" in ops.get("/operator/payments").text
