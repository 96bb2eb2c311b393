"""The payment register end to end: closed months to paid money through a pain.001 file validated against the XSD
and a bank statement; failed payments and small amounts carried; two-person approval; statements applied whole or
not at all; bank details encrypted at rest. Money is exact: every sum is checked in minor units."""

from __future__ import annotations

import stat
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from lxml import etree

from onett_domain.payments import PAIN001, PayeeError, StatementError
from onett_resources.payments import SCHEMA_FILE, PaymentError, PaymentRegister, owed_from_warehouse
from onett_resources.warehouse import Warehouse

SEPT, OCT, NOV = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)
NS = {"p": PAIN001}
SCHEMA = etree.XMLSchema(etree.parse(str(SCHEMA_FILE)))
ALICE_ACCOUNT = "123-456-789012"
HEADER = "end_to_end_id,amount,currency,status,booked_on,reason\n"


class Books:
    """A warehouse holding just the published payouts, and the register beside it."""

    def __init__(self, tmp_path):
        self.warehouse = Warehouse(database=str(tmp_path / "onett.duckdb"))
        self.register = PaymentRegister(path=str(tmp_path / "payments.sqlite"),
                                        key_file=str(tmp_path / "keys" / "payee-key.json"), currency="KRW",
                                        minimum_payout="1000", debtor_name="onett operator",
                                        debtor_account="110-999-888777", debtor_bank="004")
        self.tmp = tmp_path

    def close(self, period: date, amounts: dict[str, int], adjustments: dict[str, int] | None = None) -> None:
        adjustments = adjustments or {}
        with self.warehouse.connection() as conn:
            for c in sorted(set(amounts) | set(adjustments)):
                conn.execute("INSERT INTO payouts VALUES (?, ?, 1, 0.5, ?, 'KRW', ?)",
                             [period, c, amounts.get(c, 0), adjustments.get(c, 0)])
            conn.execute("INSERT INTO payout_periods VALUES (?, 1, 0.3, ?, ?, 'KRW', ?, 1, ?)",
                         [period, sum(amounts.values()), sum(amounts.values()), len(amounts),
                          datetime(2026, 12, 1, tzinfo=timezone.utc)])

    def owed(self, period: date):
        return owed_from_warehouse(self.warehouse, period, "KRW")

    def prepare(self, period: date, by: str = "kim"):
        return self.register.prepare(self.owed(period), by)

    def statement(self, lines: list[str], name: str = "statement.csv"):
        return self.register.import_statement(name, (HEADER + "".join(l + "\n" for l in lines)).encode(), "kim")

    def check_sums(self, period: date) -> None:
        """owed = paid + in flight + outstanding per payee, and what is outstanding is the latest run's carried or
        held amount (or nothing)."""
        owed = self.owed(period)
        latest = self.register.runs()[-1]
        outstanding = {i.contributor_id: i.amount for i in self.register.items(latest.id)
                       if i.status in ("carried", "held", "failed")}
        for b in self.register.balances(owed):
            assert b.owed == b.paid + b.in_flight + b.outstanding
            if latest.state != "cancelled":
                assert b.outstanding == outstanding.get(b.contributor_id, 0), b


@pytest.fixture
def books(tmp_path) -> Books:
    return Books(tmp_path)


def pain_amounts(data: bytes) -> tuple[etree._Element, dict[str, int]]:
    document = etree.fromstring(data)
    SCHEMA.assertValid(document)
    amounts = {t.findtext("p:PmtId/p:EndToEndId", namespaces=NS): int(t.find("p:Amt/p:InstdAmt", NS).text)
               for t in document.findall(".//p:CdtTrfTxInf", NS)}
    for path in ("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", "p:CstmrCdtTrfInitn/p:PmtInf/p:CtrlSum"):
        assert Decimal(document.findtext(path, namespaces=NS)) == sum(amounts.values())  # CtrlSum = sum of items
    assert int(document.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS)) == len(amounts)
    return document, amounts


def test_closed_month_to_paid_with_a_failure_carried_and_small_amounts_adding_up(books):
    r = books.register
    books.close(SEPT, {"alice": 50_000, "bob": 700, "carol": 30_000, "dave": 9_000})
    r.enter_details("alice", "KB국민은행", "앨리스", ALICE_ACCOUNT, "004", "alice")
    r.enter_details("bob", "Deutsche Bank", "Bob", "DE89 3704 0044 0532 0130 00", "DEUTDEFF", "bob")
    r.enter_details("dave", "신한은행", "데이브", "110-123-4567890", "", "dave")
    for c in ("alice", "bob", "dave"):
        r.confirm(c, "lee")
    # carol entered nothing: held back

    with pytest.raises(PaymentError, match="2026-10 is not closed"):
        books.prepare(OCT)
    run = books.prepare(SEPT, "kim")
    items = {i.contributor_id: i for i in r.items(run.id)}
    assert {c: (i.status, i.amount) for c, i in items.items()} == {
        "alice": ("pending", 50_000), "bob": ("carried", 700), "carol": ("held", 30_000), "dave": ("pending", 9_000)}
    assert "minimum payout of 1000 KRW" in items["bob"].reason and "bank details" in items["carol"].reason
    with pytest.raises(PaymentError, match="has run 1 prepared already"):
        books.prepare(SEPT, "lee")

    with pytest.raises(PaymentError, match="only an approved run"):
        r.export(run.id, "pain001", "kim")
    with pytest.raises(PaymentError, match="two-person rule"):
        r.approve(run.id, "kim")
    with pytest.raises(PaymentError, match="two-person rule"):
        r.approve(run.id, " KIM ")
    assert r.approve(run.id, "lee").state == "approved"

    data = r.export(run.id, "pain001", "kim", execution=date(2026, 10, 5))
    document, amounts = pain_amounts(data)
    assert amounts == {items["alice"].end_to_end_id: 50_000, items["dave"].end_to_end_id: 9_000}
    assert {a.get("Ccy") for a in document.findall(".//p:InstdAmt", NS)} == {"KRW"}
    assert r.export(run.id, "pain001", "kim", execution=date(2026, 10, 5)) == data  # exported again: the same file
    assert r.run(run.id).state == "exported"
    with pytest.raises(PaymentError, match="only a run not yet exported can be cancelled"):
        r.cancel(run.id, "lee")
    csv_file = r.export(run.id, "csv", "kim").decode()
    assert f"{items['alice'].end_to_end_id},50000,KRW,앨리스,123456789012,KB국민은행,004,onett 2026-09" in csv_file
    books.check_sums(SEPT)

    # the bank pays dave; alice's transfer fails
    done = books.statement([f"{items['dave'].end_to_end_id},9000,KRW,paid,2026-10-06",
                            f"{items['alice'].end_to_end_id},50000,KRW,failed,2026-10-06,account closed"])
    assert (done.applied, done.settled_runs) == (2, [run.id])
    assert r.run(run.id).state == "settled"
    assert {i.contributor_id: i.status for i in r.items(run.id)}["alice"] == "failed"
    books.check_sums(SEPT)

    # October: alice is owed her failed 50,000 again; bob's 700 + 400 reach the minimum; carol is confirmed now
    books.close(OCT, {"alice": 20_000, "bob": 400, "carol": 5_000, "dave": 0})
    r.enter_details("alice", "우리은행", "앨리스", "1002-345-678901", "020", "alice")
    r.enter_details("carol", "하나은행", "캐롤", "123-456789-01234", "081", "carol")
    assert not r.payee("alice").confirmed  # changed details need confirming again
    r.confirm("alice", "lee")
    r.confirm("carol", "lee")
    second = books.prepare(OCT, "lee")
    items = {i.contributor_id: i for i in r.items(second.id)}
    assert {c: (i.status, i.amount) for c, i in items.items()} == {
        "alice": ("pending", 70_000), "bob": ("pending", 1_100), "carol": ("pending", 35_000)}
    r.approve(second.id, "kim")
    document, amounts = pain_amounts(r.export(second.id, "pain001", "lee"))
    assert sum(amounts.values()) == 106_100
    def account(contributor: str, path: str) -> list[str]:
        return document.xpath(f"//p:CdtTrfTxInf[p:PmtId/p:EndToEndId='{items[contributor].end_to_end_id}']"
                              f"/p:CdtrAcct/p:Id/{path}/text()", namespaces=NS)

    assert account("alice", "p:Othr/p:Id") == ["1002345678901"]  # the new account
    assert account("bob", "p:IBAN") == ["DE89370400440532013000"]
    lines = [f"{i.end_to_end_id},{i.amount},KRW,paid,2026-11-05" for i in items.values()]
    assert books.statement(lines, "nov.csv").settled_runs == [second.id]
    again = books.statement(lines[::-1], "nov-copy.csv")  # the same lines in another file: nothing changes
    assert (again.again, again.applied, again.settled_runs) == (False, 0, [])
    assert books.statement(lines, "nov.csv").again  # the very same file: recognized, nothing done
    books.check_sums(OCT)
    balances = {b.contributor_id: (b.owed, b.paid, b.in_flight) for b in r.balances(books.owed(OCT))}
    assert balances == {"alice": (70_000, 70_000, 0), "bob": (1_100, 1_100, 0), "carol": (35_000, 35_000, 0),
                        "dave": (9_000, 9_000, 0)}
    with pytest.raises(PaymentError, match="there is a run for 2026-10 already"):
        books.prepare(SEPT)
    # nothing is owed any more: the next run lists nobody and settles on approval
    books.close(NOV, {})
    third = books.prepare(NOV, "kim")
    assert r.items(third.id) == [] and r.approve(third.id, "lee").state == "settled"
    with pytest.raises(PaymentError, match="pays nobody"):
        r.export(third.id, "pain001", "kim")

    actions = [a[2] for a in reversed(r.audit())]
    for action in ("details entered", "details confirmed", "run prepared", "run approved", "run exported",
                   "payment paid", "payment failed", "run settled", "bank statement imported", "details changed"):
        assert action in actions


def test_a_bad_statement_changes_nothing(books):
    r = books.register
    books.close(SEPT, {"alice": 50_000, "bob": 20_000})
    for c, account in (("alice", ALICE_ACCOUNT), ("bob", "110-123-4567890")):
        r.enter_details(c, "KB국민은행", c, account, "", c)
        r.confirm(c, "lee")
    run = books.prepare(SEPT)
    r.approve(run.id, "lee")
    r.export(run.id, "pain001", "kim")
    alice, bob = (i.end_to_end_id for i in r.items(run.id))
    with pytest.raises(StatementError) as raised:
        books.statement([f"{alice},50000,KRW,paid,2026-10-06",  # fine, but not applied alone
                         "ONETT-202609-R9-0001,50000,KRW,paid,2026-10-06",  # unknown
                         f"{bob},20001,KRW,paid,2026-10-06",  # wrong amount
                         f"{bob},20000,KRW,paid,yesterday"])  # malformed
    errors = raised.value.errors
    assert [e.split(":")[0] for e in errors] == ["line 3", "line 4", "line 5"]
    assert "no payment has this end-to-end id" in errors[0] and "the statement says 20001" in errors[1]
    assert "booked_on 'yesterday'" in errors[2]
    assert {i.status for i in r.items(run.id)} == {"sent"} and r.run(run.id).state == "exported"
    assert r.statements() == []
    # a payment settled one way cannot be settled the other way by a later statement
    books.statement([f"{alice},50000,KRW,paid,2026-10-06"])
    with pytest.raises(StatementError, match="already paid; the statement says failed"):
        books.statement([f"{alice},50000,KRW,failed,2026-10-07", f"{bob},20000,KRW,paid,2026-10-07"])
    assert {i.contributor_id: i.status for i in r.items(run.id)} == {"alice": "paid", "bob": "sent"}


def test_cancel_and_changed_details_before_approval(books):
    r = books.register
    books.close(SEPT, {"alice": 50_000})
    r.enter_details("alice", "KB국민은행", "앨리스", ALICE_ACCOUNT, "", "alice")
    r.confirm("alice", "lee")
    run = books.prepare(SEPT)
    r.enter_details("alice", "KB국민은행", "앨리스", "110-123-4567890", "", "alice")
    r.confirm("alice", "lee")
    with pytest.raises(PaymentError, match="bank details changed since run 1 was prepared"):
        r.approve(run.id, "lee")
    assert r.cancel(run.id, "lee").state == "cancelled"
    assert {i.status for i in r.items(run.id)} == {"cancelled"}
    again = books.prepare(SEPT)  # a cancelled run commits nothing
    assert [(i.status, i.amount) for i in r.items(again.id)] == [("pending", 50_000)]
    books.check_sums(SEPT)


def test_details_are_encrypted_at_rest_and_checked(books, tmp_path):
    r = books.register
    with pytest.raises(PayeeError, match="10 to 14 digits"):
        r.enter_details("alice", "KB국민은행", "앨리스", "123-456", "", "alice")
    with pytest.raises(PayeeError, match="check digits"):
        r.enter_details("alice", "Deutsche Bank", "Alice", "DE88 3704 0044 0532 0130 00", "", "alice")
    payee = r.enter_details("alice", "KB국민은행", "앨리스 김", ALICE_ACCOUNT, "004", "alice")
    assert payee.masked == "****9012" and not payee.confirmed
    assert r.details("alice").account == "123456789012"
    raw = (tmp_path / "payments.sqlite").read_bytes()
    for secret in (b"123456789012", b"12345678", "앨리스 김".encode(), "KB국민은행".encode()):
        assert secret not in raw
    assert b"****9012" in raw
    key = tmp_path / "keys" / "payee-key.json"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE((tmp_path / "payments.sqlite").stat().st_mode) == 0o600
    assert b"123456789012" not in key.read_bytes()
    # another key cannot read them
    key.unlink()
    with pytest.raises(PaymentError, match="fail authentication"):
        r.details("alice")
    with pytest.raises(PaymentError, match="must not be the payments database"):
        PaymentRegister(path=str(tmp_path / "p.sqlite"), key_file=str(tmp_path / "p.sqlite")).enter_details(
            "bob", "KB", "Bob", ALICE_ACCOUNT, "", "bob")
