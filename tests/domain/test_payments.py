"""Payment rules (onett_domain.payments): account checks, the owed/carry rule, end-to-end ids, the pain.001 and CSV
files, and matching a bank statement. Exact money: integers of minor units."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from lxml import etree

from onett_domain import payments as rules
from onett_domain.payments import BankDetails, Debtor, PayeeError, Sent, Transfer
from onett_resources.payments import SCHEMA_FILE

NS = {"p": rules.PAIN001}
SCHEMA = etree.XMLSchema(etree.parse(str(SCHEMA_FILE)))


def test_the_shipped_schema_is_the_generic_iso_one():
    root = etree.parse(str(SCHEMA_FILE)).getroot()
    xs = "{http://www.w3.org/2001/XMLSchema}"
    assert root.get("targetNamespace") == rules.PAIN001
    (document,) = [e for e in root.findall(f"{xs}element")]
    assert (document.get("name"), document.get("type")) == ("Document", "Document")
    choice = root.find(f"{xs}complexType[@name='AccountIdentification4Choice']/{xs}choice")
    assert {e.get("name") for e in choice} == {"IBAN", "Othr"}  # not the EPC variant (IBAN only, EUR only)


@pytest.mark.parametrize("text, normalized", [
    ("123-456-789012", "123456789012"),
    ("1002-345-678901", "1002345678901"),
    ("1234567890", "1234567890"),
    ("12345678901234", "12345678901234"),
    ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
    ("gb82west12345698765432", "GB82WEST12345698765432"),
    ("１２３-４５６-７８９０１２", "123456789012"),  # full-width digits from a Korean keyboard
])
def test_accepted_accounts(text, normalized):
    assert rules.check_account(text) == normalized


@pytest.mark.parametrize("text, says", [
    ("", "missing"),
    ("123-456-789", "10 to 14 digits; this one has 9"),
    ("123456789012345", "10 to 14 digits; this one has 15"),
    ("123--456-7890", "digits and hyphens only"),
    ("-1234567890", "digits and hyphens only"),
    ("123.456.7890", "digits and hyphens only"),
    ("DE88 3704 0044 0532 0130 00", "check digits"),  # one check digit off
    ("DE89 3704 0044 0532 0130 01", "check digits"),  # one account digit off
    ("DE89", "is not an IBAN"),
])
def test_refused_accounts_say_why(text, says):
    with pytest.raises(PayeeError, match=says):
        rules.check_account(text)


def test_details_masking_and_bank_codes():
    details = rules.check_details(" KB국민은행 ", "홍 길동", "123-456-789012", "004")
    assert details == BankDetails("KB국민은행", "홍 길동", "123456789012", "004")
    assert details.masked == "****9012" and not details.is_iban
    assert rules.check_details("Deutsche Bank", "Hong", "DE89370400440532013000", "deutdeff").bank_code == "DEUTDEFF"
    with pytest.raises(PayeeError, match="neither a BIC"):
        rules.check_details("KB", "Hong", "1234567890", "04")
    with pytest.raises(PayeeError, match="holder"):
        rules.check_details("KB", " ", "1234567890")


def test_owed_minus_committed_is_paid_carried_or_held():
    owed = {"alice": 50_000, "bob": 999, "carol": 30_000, "dave": 5_000, "erin": 1_000, "fay": 100}
    committed = {"dave": 5_000, "fay": 300}  # dave: all in flight already; fay: overpaid by an adjustment
    items = {i.contributor_id: i for i in rules.plan_run(owed, committed, {"alice", "bob", "erin"}, 1_000)}
    assert {c: (i.status, i.amount) for c, i in items.items()} == {
        "alice": ("pending", 50_000), "bob": ("carried", 999), "carol": ("held", 30_000),
        "erin": ("pending", 1_000), "fay": ("carried", -200)}
    assert "minimum" in items["bob"].reason and "bank details" in items["carol"].reason
    # nothing is lost: owed = committed + this run's items, per contributor
    for c in owed:
        assert owed[c] == committed.get(c, 0) + (items[c].amount if c in items else 0)


def test_end_to_end_ids_are_short_and_unique():
    ids = {rules.end_to_end_id(date(2026, 9, 1), run, n) for run in (1, 2, 999_999) for n in range(1, 200)}
    assert len(ids) == 3 * 199 and max(map(len, ids)) <= 35
    assert rules.end_to_end_id(date(2026, 9, 1), 12, 3) == "ONETT-202609-R12-0003"


def _transfers() -> list[Transfer]:
    return [
        Transfer("ONETT-202609-R1-0001", 1_234_567, rules.check_details("KB국민은행", "한빛출판사", "123-456-789012", "004")),
        Transfer("ONETT-202609-R1-0002", 1_000, rules.check_details("Deutsche Bank", "Moby Dick GmbH",
                                                                     "DE89 3704 0044 0532 0130 00", "DEUTDEFF")),
        Transfer("ONETT-202609-R1-0003", 70_001, rules.check_details("신한은행", "김 작가", "110-123-4567890")),
    ]


@pytest.mark.parametrize("currency, digits, amounts", [("KRW", 0, ["1234567", "1000", "70001"]),
                                                        ("USD", 2, ["12345.67", "10.00", "700.01"]),
                                                        ("BHD", 3, ["1234.567", "1.000", "70.001"])])
def test_pain001_is_valid_and_its_sums_are_exact(currency, digits, amounts):
    created = datetime(2026, 10, 2, 9, 30, tzinfo=timezone.utc)
    data = rules.pain001("ONETT-202609-R1", created, date(2026, 10, 5), date(2026, 9, 1), currency, digits,
                         Debtor("onett operator", "110-999-888777", "004"), _transfers())
    document = etree.fromstring(data)
    SCHEMA.assertValid(document)
    assert document.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) == "3"
    instructed = document.findall(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", NS)
    assert [a.text for a in instructed] == amounts and {a.get("Ccy") for a in instructed} == {currency}
    total = sum(Decimal(a) for a in amounts)
    for path in ("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", "p:CstmrCdtTrfInitn/p:PmtInf/p:CtrlSum"):
        assert Decimal(document.findtext(path, namespaces=NS)) == total
        assert document.findtext(path, namespaces=NS) == rules.amount_text(1_234_567 + 1_000 + 70_001, digits)
    first, second, third = document.findall(".//p:CdtTrfTxInf", NS)
    assert first.findtext("p:CdtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) == "123456789012"
    assert second.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=NS) == "DE89370400440532013000"
    assert second.findtext("p:CdtrAgt/p:FinInstnId/p:BICFI", namespaces=NS) == "DEUTDEFF"
    assert first.findtext("p:CdtrAgt/p:FinInstnId/p:Othr/p:Id", namespaces=NS) == "004"
    assert third.findtext("p:Cdtr/p:Nm", namespaces=NS) == "김 작가"
    assert {t.findtext("p:RmtInf/p:Ustrd", namespaces=NS) for t in (first, second, third)} == {"onett 2026-09"}
    assert document.findtext(".//p:PmtInf/p:PmtMtd", namespaces=NS) == "TRF"
    assert document.findtext(".//p:PmtInf/p:ReqdExctnDt/p:Dt", namespaces=NS) == "2026-10-05"


def test_the_schema_catches_a_broken_file():
    data = rules.pain001("M", datetime(2026, 10, 2, tzinfo=timezone.utc), date(2026, 10, 2), date(2026, 9, 1), "KRW",
                         0, Debtor("onett", "1234567890"), _transfers()[:1])
    SCHEMA.assertValid(etree.fromstring(data))
    broken = data.replace(b"<PmtMtd>TRF</PmtMtd>", b"<PmtMtd>CASH</PmtMtd>")
    assert not SCHEMA.validate(etree.fromstring(broken))
    with pytest.raises(ValueError, match="ONETT_DEBTOR_ACCOUNT"):
        rules.pain001("M", datetime(2026, 10, 2, tzinfo=timezone.utc), date(2026, 10, 2), date(2026, 9, 1), "KRW",
                      0, Debtor("onett", ""), _transfers())


def test_payment_csv():
    rows = list(csv.reader(io.StringIO(rules.payment_csv(date(2026, 9, 1), "USD", 2, _transfers()))))
    assert tuple(rows[0]) == rules.CSV_HEADER
    assert [r[1] for r in rows[1:]] == ["12345.67", "10.00", "700.01"]
    assert rows[1][4] == "123456789012" and rows[1][7] == "onett 2026-09"


STATEMENT = """end_to_end_id,amount,currency,status,booked_on,reason
ONETT-202609-R1-0001,50000,KRW,paid,2026-10-06
ONETT-202609-R1-0002,1100,KRW,rejected,2026-10-06,account closed
"""


def test_statement_lines_parse_and_match():
    lines, errors = rules.parse_statement("\ufeff" + STATEMENT, 0)
    assert not errors
    assert [(l.line, l.status, l.amount, l.reason) for l in lines] == [
        (2, "paid", 50_000, ""), (3, "failed", 1_100, "rejected by the bank: account closed")]
    known = {"ONETT-202609-R1-0001": Sent("ONETT-202609-R1-0001", 50_000, "KRW", "sent"),
             "ONETT-202609-R1-0002": Sent("ONETT-202609-R1-0002", 1_100, "KRW", "failed")}
    apply, problems = rules.match_statement(lines, known, 0)
    assert [l.end_to_end_id for l in apply] == ["ONETT-202609-R1-0001"] and not problems  # 0002: recorded already


def test_bad_statement_lines_each_named():
    text = ("end_to_end_id,amount,currency,status,booked_on\n"
            "ONETT-X,50000,KRW,paid,2026-10-06\n"  # line 2: unknown
            "ONETT-202609-R1-0001,49999,KRW,paid,2026-10-06\n"  # line 3: wrong amount
            "ONETT-202609-R1-0001,50000,USD,paid,2026-10-06\n"  # line 4: wrong currency
            "ONETT-202609-R1-0002,1100,KRW,paid,2026-10-06\n"  # line 5: already failed
            "ONETT-202609-R1-0003,1.5,KRW,bounced,6 Oct\n"  # line 6: malformed
            "ONETT-202609-R1-0004,10,KRW\n"  # line 7: short
            "ONETT-202609-R1-0005,10,KRW,paid,2026-10-06\n")  # line 8: never sent
    lines, errors = rules.parse_statement(text, 0)
    known = {"ONETT-202609-R1-0001": Sent("ONETT-202609-R1-0001", 50_000, "KRW", "sent"),
             "ONETT-202609-R1-0002": Sent("ONETT-202609-R1-0002", 1_100, "KRW", "failed"),
             "ONETT-202609-R1-0005": Sent("ONETT-202609-R1-0005", 10, "KRW", "pending")}
    _, problems = rules.match_statement(lines, known, 0)
    every = errors + problems
    assert sorted(int(e.split(":")[0].split()[1]) for e in every) == [2, 3, 4, 5, 6, 7, 8]
    said = "\n".join(every)
    for part in ("line 2: ONETT-X: no payment", "line 3: ONETT-202609-R1-0001: the payment is 50000 KRW, the statement "
                 "says 49999", "the payment is in KRW, the statement says USD", "already failed",
                 "more than 0 decimal places", "'bounced' is not paid, failed or rejected", "line 7: 3 fields",
                 "line 8: ONETT-202609-R1-0005: the payment was never sent"):
        assert part in said, said
    assert rules.parse_statement("id,amount\nx,1\n", 0)[1] == [
        "line 1: the header must be end_to_end_id,amount,currency,status,booked_on[,reason]"]
