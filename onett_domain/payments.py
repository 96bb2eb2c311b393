"""Paying contributors: what a payment run owes each payee, the files the bank receives and the statement it
returns. No Dagster, no file I/O: the register (onett_resources.payments) keeps the state and reads the files.

The owed rule. A payment run for month P owes each contributor everything published for the closed months up to P
(payouts.amount + payouts.adjustment) minus what earlier runs paid or have in flight. So a failed payment is owed
again by the next run without anyone re-entering it, and nothing is ever paid twice. A balance below the minimum
payout (or a negative one, after a negative adjustment) is carried forward; a payee without confirmed bank details
is held back; both are listed in the run with the reason, and both stay owed."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from xml.etree import ElementTree as ET

import duckdb

from onett_domain.money import to_minor

PAIN001 = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
STATEMENT_HEADER = ("end_to_end_id", "amount", "currency", "status", "booked_on")
STATEMENT_STATUSES = {"paid": "paid", "failed": "failed", "rejected": "failed"}
CSV_HEADER = ("end_to_end_id", "amount", "currency", "creditor_name", "account", "bank", "bank_code", "reference")
MAX_END_TO_END = 35  # ISO 20022 Max35Text
BIC = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")
KOREAN_BANK_CODE = re.compile(r"\d{3}")  # 금융결제원 bank codes, e.g. 004 (KB국민은행), 088 (신한은행)
KOREAN_ACCOUNT = re.compile(r"\d+(-\d+)*")
IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")


class PayeeError(ValueError):
    """Bank details refused, with what is wrong and what is accepted."""


class StatementError(ValueError):
    """A bank statement that cannot be applied; `errors` names every bad line. Nothing of it was applied."""

    def __init__(self, errors: list[str]):
        super().__init__(f"{len(errors)} problem(s), nothing applied:\n" + "\n".join(errors))
        self.errors = errors


# ---- bank details --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BankDetails:
    bank: str  # the bank's name, as the contributor wrote it
    holder: str  # the account holder's name
    account: str  # an IBAN (no spaces) or a Korean account number (digits only)
    bank_code: str = ""  # optional: a BIC or a 3-digit Korean bank code

    @property
    def is_iban(self) -> bool:
        return bool(IBAN.fullmatch(self.account))

    @property
    def masked(self) -> str:
        return mask(self.account)


def mask(account: str) -> str:
    """What is shown in clear: the last four characters only."""
    return "****" + account[-4:]


def iban_ok(iban: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to numbers (A=10 ... Z=35), mod 97 is 1."""
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def check_account(text: str) -> str:
    """The account number normalized, or PayeeError. Accepted: a Korean account number (10 to 14 digits, hyphens
    allowed between digits, e.g. 123-456-789012) or an IBAN (ISO 13616, spaces allowed, check digits verified)."""
    raw = unicodedata.normalize("NFKC", text or "").strip()
    if not raw:
        raise PayeeError("the account number is missing")
    compact = raw.replace(" ", "").upper()
    if compact[:2].isalpha():
        if not IBAN.fullmatch(compact):
            raise PayeeError(f"{mask(compact)} is not an IBAN: two letters, two check digits, then 11 to 30 letters "
                             "or digits")
        if not iban_ok(compact):
            raise PayeeError(f"the IBAN ending {compact[-4:]} fails its check digits (ISO 13616 mod 97): a typo?")
        return compact
    if not KOREAN_ACCOUNT.fullmatch(raw):
        raise PayeeError("a Korean account number has digits and hyphens only (e.g. 123-456-789012); an IBAN "
                         "starts with two letters")
    digits = raw.replace("-", "")
    if not 10 <= len(digits) <= 14:
        raise PayeeError(f"a Korean account number has 10 to 14 digits; this one has {len(digits)}")
    return digits


def check_details(bank: str, holder: str, account: str, bank_code: str = "") -> BankDetails:
    """Bank details as entered, checked and normalized; PayeeError names the first problem."""
    bank, holder = " ".join((bank or "").split()), " ".join((holder or "").split())
    if not bank or len(bank) > 140:
        raise PayeeError("the bank's name is missing (or longer than 140 characters)")
    if not holder or len(holder) > 140:
        raise PayeeError("the account holder's name is missing (or longer than 140 characters)")
    number = check_account(account)
    code = (bank_code or "").replace(" ", "").upper()
    if code and not (BIC.fullmatch(code) or KOREAN_BANK_CODE.fullmatch(code)):
        raise PayeeError(f"{code!r} is neither a BIC (8 or 11 letters and digits, e.g. CZNBKRSE) nor a 3-digit "
                         "Korean bank code (e.g. 004)")
    return BankDetails(bank, holder, number, code)


# ---- what a run owes -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Owed:
    period: date
    closed: bool  # the month is closed: a run may be prepared for it
    currency: str
    amounts: dict[str, int]  # contributor -> minor units owed over the closed months up to `period`


def owed_through(conn: duckdb.DuckDBPyConnection, period: date, currency: str, digits: int) -> Owed:
    """Everything published for the closed months up to `period`, per contributor, in minor units."""
    closed = conn.execute("SELECT count(*) FROM payout_periods WHERE period = ?", [period]).fetchone()[0] > 0
    rows = conn.execute(
        """SELECT o.contributor_id, o.currency, sum(o.amount + coalesce(o.adjustment, 0))
           FROM payouts o JOIN payout_periods p USING (period)
           WHERE o.period <= ? GROUP BY ALL ORDER BY ALL""", [period]).fetchall()
    other = sorted({c for _, c, _ in rows if c != currency})
    if other:
        raise ValueError(f"payouts up to {period:%Y-%m} are in {', '.join(other)}, not {currency}: a payment run "
                         "pays one currency")
    return Owed(period, closed, currency, {c: to_minor(a, digits) for c, _, a in rows})


@dataclass(frozen=True)
class Planned:
    contributor_id: str
    status: str  # pending (to be paid) | carried (below the minimum, or negative) | held (no confirmed details)
    amount: int  # minor units: the balance owed now
    reason: str = ""


def plan_run(owed: dict[str, int], committed: dict[str, int], confirmed: set[str], minimum: int,
             describe=lambda minor: str(minor)) -> list[Planned]:
    """Each contributor's item: balance = owed - committed (paid or in flight in earlier runs). Contributors
    with a zero balance are not listed; `describe` formats an amount for the reasons."""
    items = []
    for contributor_id in sorted(set(owed) | set(committed)):
        balance = owed.get(contributor_id, 0) - committed.get(contributor_id, 0)
        if balance == 0:
            continue
        if balance < 0:
            items.append(Planned(contributor_id, "carried", balance,
                                 "more was paid than is owed (a negative adjustment): later payouts settle it"))
        elif balance < minimum:
            items.append(Planned(contributor_id, "carried", balance,
                                 f"below the minimum payout of {describe(minimum)}: carried to the next run"))
        elif contributor_id not in confirmed:
            items.append(Planned(contributor_id, "held", balance,
                                 "no confirmed bank details: held back until an operator confirms them"))
        else:
            items.append(Planned(contributor_id, "pending", balance))
    return items


def end_to_end_id(period: date, run_id: int, index: int) -> str:
    """Unique over all runs (the run id is), readable on a bank statement, at most 35 characters."""
    value = f"ONETT-{period:%Y%m}-R{run_id}-{index:04d}"
    if len(value) > MAX_END_TO_END:
        raise ValueError(f"end-to-end id {value} is longer than {MAX_END_TO_END} characters")
    return value


def amount_text(minor: int, digits: int) -> str:
    """An amount with exactly the currency's minor-unit digits, as payment files write it."""
    return f"{Decimal(minor).scaleb(-digits):.{digits}f}"


# ---- payment files -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Debtor:
    name: str
    account: str  # an IBAN or the bank's own account number
    bank: str = ""  # a BIC, or the bank's code


@dataclass(frozen=True)
class Transfer:
    end_to_end_id: str
    amount: int  # minor units
    creditor: BankDetails


def reference(period: date) -> str:
    return f"onett {period:%Y-%m}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs) -> ET.Element:
    element = ET.SubElement(parent, f"{{{PAIN001}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def _account(parent: ET.Element, tag: str, account: str) -> None:
    identification = _sub(_sub(parent, tag), "Id")
    if IBAN.fullmatch(account):
        _sub(identification, "IBAN", account)
    else:
        _sub(_sub(identification, "Othr"), "Id", account)


def _agent(parent: ET.Element, tag: str, code: str, name: str = "") -> None:
    institution = _sub(_sub(parent, tag), "FinInstnId")
    if BIC.fullmatch(code or ""):
        _sub(institution, "BICFI", code)
    if name:
        _sub(institution, "Nm", name[:140])
    if code and not BIC.fullmatch(code):
        _sub(_sub(institution, "Othr"), "Id", code)
    elif not code and not name:
        _sub(_sub(institution, "Othr"), "Id", "NOTPROVIDED")


def pain001(msg_id: str, created: datetime, execution: date, period: date, currency: str, digits: int,
            debtor: Debtor, transfers: list[Transfer]) -> bytes:
    """An ISO 20022 pain.001.001.09 credit transfer initiation: one payment instruction, one transaction per
    payment. CtrlSum is the exact sum of the amounts; amounts carry the currency's minor-unit digits."""
    if not transfers:
        raise ValueError("a payment file needs at least one payment")
    if not debtor.account:
        raise ValueError("the paying account is not set (ONETT_DEBTOR_ACCOUNT)")
    ET.register_namespace("", PAIN001)
    document = ET.Element(f"{{{PAIN001}}}Document")
    initiation = _sub(document, "CstmrCdtTrfInitn")
    total = amount_text(sum(t.amount for t in transfers), digits)
    header = _sub(initiation, "GrpHdr")
    _sub(header, "MsgId", msg_id)
    _sub(header, "CreDtTm", created.isoformat(timespec="seconds"))
    _sub(header, "NbOfTxs", str(len(transfers)))
    _sub(header, "CtrlSum", total)
    _sub(_sub(header, "InitgPty"), "Nm", debtor.name[:140])
    instruction = _sub(initiation, "PmtInf")
    _sub(instruction, "PmtInfId", msg_id)
    _sub(instruction, "PmtMtd", "TRF")
    _sub(instruction, "NbOfTxs", str(len(transfers)))
    _sub(instruction, "CtrlSum", total)
    _sub(_sub(instruction, "ReqdExctnDt"), "Dt", execution.isoformat())
    _sub(_sub(instruction, "Dbtr"), "Nm", debtor.name[:140])
    _account(instruction, "DbtrAcct", debtor.account)
    _agent(instruction, "DbtrAgt", debtor.bank)
    for transfer in transfers:
        transaction = _sub(instruction, "CdtTrfTxInf")
        _sub(_sub(transaction, "PmtId"), "EndToEndId", transfer.end_to_end_id)
        _sub(_sub(transaction, "Amt"), "InstdAmt", amount_text(transfer.amount, digits), Ccy=currency)
        _agent(transaction, "CdtrAgt", transfer.creditor.bank_code, transfer.creditor.bank)
        _sub(_sub(transaction, "Cdtr"), "Nm", transfer.creditor.holder[:140])
        _account(transaction, "CdtrAcct", transfer.creditor.account)
        _sub(_sub(transaction, "RmtInf"), "Ustrd", reference(period))
    ET.indent(document)
    return ET.tostring(document, encoding="UTF-8", xml_declaration=True) + b"\n"


def _csv_cell(value: str) -> str:
    """Spreadsheet-safe: a cell starting with = + - @ is not taken for a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def payment_csv(period: date, currency: str, digits: int, transfers: list[Transfer]) -> str:
    """The same payments as a plain CSV, for a bank without pain.001 upload."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for t in transfers:
        writer.writerow([t.end_to_end_id, amount_text(t.amount, digits), currency, _csv_cell(t.creditor.holder),
                         t.creditor.account, _csv_cell(t.creditor.bank), t.creditor.bank_code, reference(period)])
    return out.getvalue()


# ---- bank statements -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StatementLine:
    line: int  # in the file, the header being line 1
    end_to_end_id: str
    amount: int  # minor units
    currency: str
    status: str  # paid | failed
    booked_on: date
    reason: str  # the bank's words (rejected lines say so)


def parse_amount(text: str, digits: int) -> int:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"amount {text!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"amount {text!r} must be zero or more")
    if value != value.quantize(Decimal(1).scaleb(-digits)):
        raise ValueError(f"amount {text!r} has more than {digits} decimal places")
    return int(value.scaleb(digits))


def parse_statement(text: str, digits: int) -> tuple[list[StatementLine], list[str]]:
    """The lines of a bank statement CSV (`end_to_end_id,amount,currency,status,booked_on[,reason]`) and an error
    for each malformed one, naming the line."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows or tuple(c.strip().lower() for c in rows[0][:5]) != STATEMENT_HEADER:
        return [], [f"line 1: the header must be {','.join(STATEMENT_HEADER)}[,reason]"]
    lines, errors = [], []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) not in (5, 6):
            errors.append(f"line {number}: {len(row)} fields, expected 5 or 6 ({','.join(STATEMENT_HEADER)}"
                          "[,reason])")
            continue
        e2e, amount, currency, status, booked = (c.strip() for c in row[:5])
        reason = row[5].strip() if len(row) == 6 else ""
        problems = []
        if not e2e:
            problems.append("the end-to-end id is empty")
        try:
            minor = parse_amount(amount, digits)
        except ValueError as exc:
            problems.append(str(exc))
        if status.lower() not in STATEMENT_STATUSES:
            problems.append(f"status {status!r} is not paid, failed or rejected")
        try:
            day = date.fromisoformat(booked)
        except ValueError:
            problems.append(f"booked_on {booked!r} is not a date (YYYY-MM-DD)")
        if problems:
            errors.append(f"line {number}: " + "; ".join(problems))
            continue
        word = status.lower()
        if word == "rejected":
            reason = f"rejected by the bank{': ' + reason if reason else ''}"
        lines.append(StatementLine(number, e2e, minor, currency.upper(), STATEMENT_STATUSES[word], day, reason))
    return lines, errors


@dataclass(frozen=True)
class Sent:
    """A payment as the register knows it, for matching."""

    end_to_end_id: str
    amount: int
    currency: str
    status: str  # pending | sent | paid | failed | cancelled


def match_statement(lines: list[StatementLine], known: dict[str, Sent], digits: int) -> tuple[list[StatementLine],
                                                                                              list[str]]:
    """The lines that change a payment, and an error for each line that cannot be applied. A line repeating what
    is already recorded changes nothing, so a statement imported twice is harmless."""
    apply, errors, seen = [], [], {}
    for line in lines:
        payment = known.get(line.end_to_end_id)
        where = f"line {line.line}: {line.end_to_end_id}"
        if payment is None:
            errors.append(f"{where}: no payment has this end-to-end id")
            continue
        if line.currency != payment.currency:
            errors.append(f"{where}: the payment is in {payment.currency}, the statement says {line.currency}")
            continue
        if line.amount != payment.amount:
            errors.append(f"{where}: the payment is {amount_text(payment.amount, digits)} {payment.currency}, the "
                          f"statement says {amount_text(line.amount, digits)}")
            continue
        if line.end_to_end_id in seen and seen[line.end_to_end_id].status != line.status:
            errors.append(f"{where}: line {seen[line.end_to_end_id].line} says {seen[line.end_to_end_id].status}, "
                          f"this one {line.status}")
            continue
        seen.setdefault(line.end_to_end_id, line)
        if payment.status in ("pending", "cancelled"):
            errors.append(f"{where}: the payment was never sent (its run is "
                          f"{'cancelled' if payment.status == 'cancelled' else 'not exported yet'})")
        elif payment.status in ("paid", "failed") and payment.status != line.status:
            errors.append(f"{where}: the payment is already {payment.status}; the statement says {line.status}")
        elif payment.status == "sent" and seen[line.end_to_end_id] is line:
            apply.append(line)
    return apply, errors
