"""The payment register: payees' bank details (encrypted), payment runs and their payments, imported bank
statements, and an audit trail of every state change.

A SQLite file of its own (ONETT_PAYMENTS_DB), like the consent register: the portal and the CLI write it while the
pipeline holds the warehouse's single writer. The register enforces the rules itself, whoever calls it: a run only
for a closed month, approval by an operator other than the one who prepared it, export only once approved, a bank
statement applied whole or not at all.

States. A run: prepared -> approved -> exported -> settled, or cancelled before export (approving a run that pays
nobody settles it). A payment (an item to pay): pending -> sent (exported) -> paid | failed, or cancelled with its
run. Items not paid are listed too: carried (below the minimum, or a negative balance) and held (no confirmed bank
details); they commit nothing, so the next run owes them again, as it owes failed payments again.

Bank details are sealed with AES-256-GCM (a random nonce per entry, the contributor id as associated data, so a
row copied onto another payee fails) under one key kept in ONETT_PAYEE_KEY_FILE (0600, created on first use, never
the database file). Only the masked account (****1234) is stored in clear."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from dagster import ConfigurableResource

from onett_domain import payments as rules
from onett_domain.money import CURRENCY_DIGITS, to_minor
from onett_domain.payments import BankDetails, Debtor, Owed, PayeeError, Sent, StatementError, Transfer
from onett_resources.key_store import KeyStore
from onett_resources.registers import open_register

SCHEMA_FILE = Path(__file__).parent / "schemas" / "pain.001.001.09.xsd"
KEY_NAME = "payee-details"
FORMATS = ("pain001", "csv")
ACTIVE = ("prepared", "approved", "exported")

SCHEMA = """
CREATE TABLE IF NOT EXISTS payees (
    contributor_id TEXT PRIMARY KEY,
    sealed         BLOB NOT NULL,          -- AES-256-GCM: nonce (12 bytes) + ciphertext of the details as JSON
    masked         TEXT NOT NULL,          -- ****1234: the only part of the account in clear
    version        INTEGER NOT NULL,       -- +1 on every change; a change resets the confirmation
    entered_by     TEXT NOT NULL,
    entered_at     TEXT NOT NULL,          -- ISO 8601, UTC
    confirmed_by   TEXT,
    confirmed_at   TEXT
);
CREATE TABLE IF NOT EXISTS payment_runs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    period         TEXT NOT NULL,          -- YYYY-MM-01: pays what is owed over the closed months up to it
    currency       TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('prepared', 'approved', 'exported', 'settled', 'cancelled')),
    prepared_by    TEXT NOT NULL,
    prepared_at    TEXT NOT NULL,
    approved_by    TEXT,
    approved_at    TEXT,
    exported_by    TEXT,
    exported_at    TEXT,                   -- also the files' creation time, so a file exported again is the same
    msg_id         TEXT,                   -- the pain.001 message id
    settled_at     TEXT,
    cancelled_by   TEXT,
    cancelled_at   TEXT
);
CREATE TABLE IF NOT EXISTS payments (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id         INTEGER NOT NULL REFERENCES payment_runs(id),
    contributor_id TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'paid', 'failed', 'cancelled', 'carried',
                                                   'held')),
    amount_minor   INTEGER NOT NULL,       -- the balance owed when the run was prepared
    currency       TEXT NOT NULL,
    end_to_end_id  TEXT UNIQUE,            -- for payments only (pending and after)
    payee_version  INTEGER,                -- the bank details approved with the run
    reason         TEXT NOT NULL DEFAULT '',
    booked_on      TEXT,                   -- from the bank statement
    settled_at     TEXT
);
CREATE INDEX IF NOT EXISTS payments_contributor ON payments (contributor_id, status);
CREATE TABLE IF NOT EXISTS payment_audit (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             TEXT NOT NULL,
    who            TEXT NOT NULL,
    action         TEXT NOT NULL,
    run_id         INTEGER,
    contributor_id TEXT,
    end_to_end_id  TEXT,
    detail         TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS bank_statements (
    sha256         TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    imported_by    TEXT NOT NULL,
    imported_at    TEXT NOT NULL,
    lines          INTEGER NOT NULL,
    applied        INTEGER NOT NULL        -- lines that changed a payment
);
"""


class PaymentError(ValueError):
    """A request the register refuses, with the reason."""


@dataclass(frozen=True)
class Payee:
    contributor_id: str
    masked: str
    version: int
    entered_by: str
    entered_at: datetime
    confirmed_by: str | None
    confirmed_at: datetime | None

    @property
    def confirmed(self) -> bool:
        return self.confirmed_by is not None


@dataclass(frozen=True)
class Run:
    id: int
    period: date
    currency: str
    state: str
    prepared_by: str
    prepared_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    exported_by: str | None
    exported_at: datetime | None
    msg_id: str | None
    settled_at: datetime | None
    cancelled_by: str | None
    cancelled_at: datetime | None


@dataclass(frozen=True)
class Item:
    id: int
    run_id: int
    contributor_id: str
    status: str
    amount: int  # minor units
    currency: str
    end_to_end_id: str | None
    payee_version: int | None
    reason: str
    booked_on: date | None
    settled_at: datetime | None
    period: date | None = None  # the run's month, when listed for a contributor


@dataclass(frozen=True)
class Imported:
    name: str
    sha256: str
    lines: int
    applied: int  # 0 when the same file was imported before
    again: bool  # this very file was imported before: nothing done
    settled_runs: list[int]


@dataclass(frozen=True)
class Balance:
    """One contributor's money: owed = paid + in flight + outstanding (carried or held, owed by the next run)."""

    contributor_id: str
    owed: int
    paid: int
    in_flight: int  # pending or sent

    @property
    def outstanding(self) -> int:
        return self.owed - self.paid - self.in_flight


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _who(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise PaymentError("say who does this (an operator's name)")
    return name


@functools.lru_cache(maxsize=1)
def pain001_schema():
    """The official generic pain.001.001.09 XSD shipped with onett, loaded once per process."""
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(SCHEMA_FILE)))


def validate_pain001(data: bytes) -> list[str]:
    """Every XSD violation of a pain.001.001.09 file (empty when valid)."""
    from lxml import etree

    schema = pain001_schema()
    try:
        document = etree.fromstring(data)
    except etree.XMLSyntaxError as exc:
        return [f"not XML: {exc}"]
    if schema.validate(document):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


class PaymentRegister(ConfigurableResource):
    path: str
    key_file: str
    currency: str = "KRW"
    minimum_payout: str = "1000"  # major units
    debtor_name: str = "onett operator"
    debtor_account: str = ""
    debtor_bank: str = ""
    statement_dir: str = ""  # where bank statement CSVs are dropped for the pipeline
    operator: str = "onett operator"  # who acts for the pipeline when a run names no one

    @classmethod
    def from_settings(cls, settings) -> "PaymentRegister":
        return cls(path=str(settings.payments), key_file=str(settings.payee_key_file), currency=settings.currency,
                   minimum_payout=str(settings.minimum_payout), debtor_name=settings.debtor_name,
                   debtor_account=settings.debtor_account, debtor_bank=settings.debtor_bank,
                   statement_dir=str(settings.bank_statement_dir or Path(settings.home) / "bank_statements"),
                   operator=settings.operator_name)

    def statement_files(self) -> list[Path]:
        """The bank statement CSVs in the folder, oldest first (hidden and partial files left alone)."""
        folder = Path(self.statement_dir) if self.statement_dir else None
        if folder is None or not folder.is_dir():
            return []
        found = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv"
                 and not p.name.startswith(".")]
        return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))

    @property
    def digits(self) -> int:
        return CURRENCY_DIGITS[self.currency]

    @property
    def minimum(self) -> int:
        return to_minor(self.minimum_payout, self.digits)

    def money(self, minor: int) -> str:
        return f"{rules.amount_text(minor, self.digits)} {self.currency}"

    @contextmanager
    def _db(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction; `immediate` takes the write lock at once, so a decision read and written in it holds
        (two operators preparing the same month at the same moment: one gets the run, the other is refused)."""
        with open_register(self.path, SCHEMA) as db:
            if immediate:
                db.execute("BEGIN IMMEDIATE")
            yield db

    @staticmethod
    def _audit(db: sqlite3.Connection, who: str, action: str, run_id: int | None = None,
               contributor_id: str | None = None, end_to_end_id: str | None = None, detail: str = "") -> None:
        db.execute("INSERT INTO payment_audit (at, who, action, run_id, contributor_id, end_to_end_id, detail) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)", [_now(), who, action, run_id, contributor_id, end_to_end_id, detail])

    # ---- sealing -------------------------------------------------------------------------------------------
    def _key(self) -> bytes:
        if Path(self.key_file).resolve() == Path(self.path).resolve():
            raise PaymentError("the payee key file must not be the payments database")
        return KeyStore(self.key_file).key_for(KEY_NAME)

    def _seal(self, contributor_id: str, details: BankDetails) -> bytes:
        nonce = os.urandom(12)
        plain = json.dumps({"bank": details.bank, "holder": details.holder, "account": details.account,
                            "bank_code": details.bank_code}, ensure_ascii=False).encode()
        return nonce + AESGCM(self._key()).encrypt(nonce, plain, contributor_id.encode())

    def _unseal(self, contributor_id: str, sealed: bytes) -> BankDetails:
        try:
            plain = AESGCM(self._key()).decrypt(sealed[:12], sealed[12:], contributor_id.encode())
        except InvalidTag:
            raise PaymentError(f"the bank details of {contributor_id} fail authentication: altered, or sealed with "
                               "another key") from None
        return BankDetails(**json.loads(plain))

    # ---- payees --------------------------------------------------------------------------------------------
    def enter_details(self, contributor_id: str, bank: str, holder: str, account: str, bank_code: str,
                      entered_by: str) -> Payee:
        """Store (or replace) a contributor's bank details; PayeeError if they fail their checks. A change needs
        an operator's confirmation again before it is used."""
        details = rules.check_details(bank, holder, account, bank_code)
        by = _who(entered_by)
        sealed = self._seal(contributor_id, details)
        with self._db(immediate=True) as db:
            row = db.execute("SELECT version FROM payees WHERE contributor_id = ?", [contributor_id]).fetchone()
            version = (row[0] if row else 0) + 1
            db.execute("INSERT OR REPLACE INTO payees VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
                       [contributor_id, sealed, details.masked, version, by, _now()])
            self._audit(db, by, "details entered" if row is None else "details changed", contributor_id=contributor_id,
                        detail=f"account {details.masked}" + ("; confirmation reset" if row else ""))
        return self.payee(contributor_id)

    def confirm(self, contributor_id: str, confirmed_by: str) -> Payee:
        by = _who(confirmed_by)
        with self._db(immediate=True) as db:
            row = db.execute("SELECT masked, confirmed_by FROM payees WHERE contributor_id = ?",
                             [contributor_id]).fetchone()
            if row is None:
                raise PaymentError(f"{contributor_id} has entered no bank details")
            if row[1] is None:
                db.execute("UPDATE payees SET confirmed_by = ?, confirmed_at = ? WHERE contributor_id = ?",
                           [by, _now(), contributor_id])
                self._audit(db, by, "details confirmed", contributor_id=contributor_id, detail=f"account {row[0]}")
        return self.payee(contributor_id)

    def payee(self, contributor_id: str) -> Payee | None:
        found = self.payees(contributor_id)
        return found[0] if found else None

    def payees(self, contributor_id: str | None = None) -> list[Payee]:
        with self._db() as db:
            rows = db.execute("SELECT contributor_id, masked, version, entered_by, entered_at, confirmed_by, "
                              "confirmed_at FROM payees WHERE ? IS NULL OR contributor_id = ? ORDER BY 1",
                              [contributor_id, contributor_id]).fetchall()
        return [Payee(c, m, v, by, _time(at), cby, _time(cat)) for c, m, v, by, at, cby, cat in rows]

    def details(self, contributor_id: str) -> BankDetails | None:
        """The decrypted details, for their owner's page and the payment files."""
        with self._db() as db:
            row = db.execute("SELECT sealed FROM payees WHERE contributor_id = ?", [contributor_id]).fetchone()
        return self._unseal(contributor_id, row[0]) if row else None

    # ---- runs ----------------------------------------------------------------------------------------------
    def prepare(self, owed: Owed, prepared_by: str) -> Run:
        """A run for a closed month: each contributor's balance (owed minus what earlier runs paid or have in
        flight) to pay, carry or hold back. Refused for an open month, or while the month has an active run."""
        by = _who(prepared_by)
        if not owed.closed:
            raise PaymentError(f"{owed.period:%Y-%m} is not closed: its payouts may still change; close it first")
        if owed.currency != self.currency:
            raise PaymentError(f"payouts are in {owed.currency}, payments in {self.currency}")
        with self._db(immediate=True) as db:
            active = db.execute("SELECT id, state FROM payment_runs WHERE period = ? AND state IN (?, ?, ?)",
                                [owed.period.isoformat(), *ACTIVE]).fetchone()
            if active:
                raise PaymentError(f"{owed.period:%Y-%m} has run {active[0]} {active[1]} already: settle or cancel "
                                   "it first")
            later = db.execute("SELECT max(period) FROM payment_runs WHERE state != 'cancelled'").fetchone()[0]
            if later and later > owed.period.isoformat():
                raise PaymentError(f"there is a run for {later[:7]} already, which owes everything up to it: prepare "
                                   f"a run for {later[:7]} or later instead of {owed.period:%Y-%m}")
            committed = dict(db.execute("SELECT contributor_id, sum(amount_minor) FROM payments "
                                        "WHERE status IN ('pending', 'sent', 'paid') GROUP BY 1").fetchall())
            versions = dict(db.execute("SELECT contributor_id, version FROM payees "
                                       "WHERE confirmed_by IS NOT NULL").fetchall())
            planned = rules.plan_run(owed.amounts, committed, set(versions), self.minimum, self.money)
            run_id = db.execute("INSERT INTO payment_runs (period, currency, state, prepared_by, prepared_at) "
                                "VALUES (?, ?, 'prepared', ?, ?)",
                                [owed.period.isoformat(), self.currency, by, _now()]).lastrowid
            index = 0
            for item in planned:
                e2e = None
                if item.status == "pending":
                    index += 1
                    e2e = rules.end_to_end_id(owed.period, run_id, index)
                db.execute("INSERT INTO payments (run_id, contributor_id, status, amount_minor, currency, "
                           "end_to_end_id, payee_version, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           [run_id, item.contributor_id, item.status, item.amount, self.currency, e2e,
                            versions.get(item.contributor_id), item.reason])
            to_pay = sum(i.amount for i in planned if i.status == "pending")
            self._audit(db, by, "run prepared", run_id, detail=f"{owed.period:%Y-%m}: {index} payment(s), "
                        f"{self.money(to_pay)}; {sum(i.status == 'carried' for i in planned)} carried, "
                        f"{sum(i.status == 'held' for i in planned)} held back")
        return self.run(run_id)

    def approve(self, run_id: int, approved_by: str) -> Run:
        """The second operator's approval; the one who prepared the run cannot approve it."""
        by = _who(approved_by)
        with self._db(immediate=True) as db:
            run = self._run(db, run_id)
            if run.state != "prepared":
                raise PaymentError(f"run {run_id} is {run.state}: only a prepared run can be approved")
            if by.casefold() == run.prepared_by.casefold():
                raise PaymentError(f"run {run_id} was prepared by {run.prepared_by}: another operator must approve "
                                   "it (two-person rule)")
            self._check_payees(db, run_id)
            pays = db.execute("SELECT count(*) FROM payments WHERE run_id = ? AND status = 'pending'",
                              [run_id]).fetchone()[0]
            now = _now()
            db.execute("UPDATE payment_runs SET state = ?, approved_by = ?, approved_at = ?, settled_at = ? "
                       "WHERE id = ?", ["approved" if pays else "settled", by, now, None if pays else now, run_id])
            self._audit(db, by, "run approved", run_id, detail="" if pays else "nothing to pay: settled")
        return self.run(run_id)

    def _check_payees(self, db: sqlite3.Connection, run_id: int) -> None:
        """The bank details of every payment are still the ones confirmed when the run was prepared."""
        changed = db.execute(
            """SELECT p.contributor_id FROM payments p LEFT JOIN payees d USING (contributor_id)
               WHERE p.run_id = ? AND p.status IN ('pending', 'sent')
                 AND (d.version IS NOT p.payee_version OR d.confirmed_by IS NULL) ORDER BY 1""", [run_id]).fetchall()
        if changed:
            raise PaymentError(f"bank details changed since run {run_id} was prepared ("
                               f"{', '.join(c for c, in changed)}): cancel it and prepare it again")

    def cancel(self, run_id: int, cancelled_by: str) -> Run:
        by = _who(cancelled_by)
        with self._db(immediate=True) as db:
            run = self._run(db, run_id)
            if run.state not in ("prepared", "approved"):
                raise PaymentError(f"run {run_id} is {run.state}: only a run not yet exported can be cancelled")
            db.execute("UPDATE payment_runs SET state = 'cancelled', cancelled_by = ?, cancelled_at = ? WHERE id = ?",
                       [by, _now(), run_id])
            db.execute("UPDATE payments SET status = 'cancelled' WHERE run_id = ? AND status = 'pending'", [run_id])
            self._audit(db, by, "run cancelled", run_id)
        return self.run(run_id)

    def export(self, run_id: int, fmt: str, exported_by: str, execution: date | None = None) -> bytes:
        """The run's payment file (pain001: validated against the XSD; csv). The first export marks the payments
        sent; exporting again gives the same file (same message id and creation time)."""
        if fmt not in FORMATS:
            raise PaymentError(f"format {fmt!r}: use {' or '.join(FORMATS)}")
        by = _who(exported_by)
        with self._db(immediate=True) as db:
            run = self._run(db, run_id)
            if run.state not in ("approved", "exported", "settled") or run.approved_by is None:
                raise PaymentError(f"run {run_id} is {run.state}: only an approved run can be exported")
            items = [i for i in self._items(db, run_id) if i.status in ("pending", "sent", "paid", "failed")]
            if not items:
                raise PaymentError(f"run {run_id} pays nobody: there is no file to export")
            if run.state == "approved":
                self._check_payees(db, run_id)
                created = datetime.now(timezone.utc).replace(microsecond=0)
                msg_id = f"ONETT-{run.period:%Y%m}-R{run_id}"
                db.execute("UPDATE payment_runs SET state = 'exported', exported_by = ?, exported_at = ?, msg_id = ? "
                           "WHERE id = ?", [by, created.isoformat(), msg_id, run_id])
                db.execute("UPDATE payments SET status = 'sent' WHERE run_id = ? AND status = 'pending'", [run_id])
                self._audit(db, by, "run exported", run_id, detail=f"{fmt}, message {msg_id}")
            else:
                created, msg_id = run.exported_at, run.msg_id
                self._audit(db, by, "file exported again", run_id, detail=fmt)
            sealed = dict(db.execute("SELECT contributor_id, sealed FROM payees").fetchall())
            transfers = [Transfer(i.end_to_end_id, i.amount, self._unseal(i.contributor_id, sealed[i.contributor_id]))
                         for i in items]
            when = execution or created.date()
            if fmt == "csv":
                return rules.payment_csv(run.period, self.currency, self.digits, transfers).encode("utf-8")
            try:
                data = rules.pain001(msg_id, created, when, run.period, self.currency, self.digits,
                                     Debtor(self.debtor_name, self.debtor_account, self.debtor_bank), transfers)
            except ValueError as exc:
                raise PaymentError(f"run {run_id}: {exc}") from None
            problems = validate_pain001(data)
            if problems:  # never hand a bank a file its schema refuses; nothing is marked sent
                raise PaymentError(f"run {run_id}: the pain.001 file fails the XSD: " + "; ".join(problems[:5]))
            return data

    # ---- bank statements -----------------------------------------------------------------------------------
    def unapplied_statements(self) -> list[tuple[Path, str]]:
        """(file, sha256) of the statement files in the folder not imported yet."""
        found = [(p, hashlib.sha256(p.read_bytes()).hexdigest()) for p in self.statement_files()]
        if not found:
            return []
        with self._db() as db:
            known = {sha for sha, in db.execute("SELECT sha256 FROM bank_statements")}
        return [(p, sha) for p, sha in found if sha not in known]

    def import_statement(self, name: str, data: bytes, imported_by: str) -> Imported:
        """Apply a bank statement: every line, or (StatementError listing every bad line) none. The same file
        again, or lines already recorded, change nothing."""
        by = _who(imported_by)
        sha = hashlib.sha256(data).hexdigest()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise StatementError([f"{name}: not UTF-8 text"]) from None
        with self._db(immediate=True) as db:
            before = db.execute("SELECT lines FROM bank_statements WHERE sha256 = ?", [sha]).fetchone()
            if before:
                return Imported(name, sha, before[0], 0, True, [])
            lines, errors = rules.parse_statement(text, self.digits)
            known = {e: Sent(e, a, c, s) for e, a, c, s in db.execute(
                "SELECT end_to_end_id, amount_minor, currency, status FROM payments WHERE end_to_end_id IS NOT NULL")}
            apply, problems = rules.match_statement(lines, known, self.digits)
            errors = sorted(errors + problems, key=lambda e: int(e.split(":")[0].split()[1]))
            if errors:
                raise StatementError(errors)
            now = _now()
            for line in apply:
                db.execute("UPDATE payments SET status = ?, booked_on = ?, settled_at = ?, reason = ? "
                           "WHERE end_to_end_id = ? AND status = 'sent'",
                           [line.status, line.booked_on.isoformat(), now, line.reason, line.end_to_end_id])
                contributor_id, run_id = db.execute("SELECT contributor_id, run_id FROM payments "
                                                    "WHERE end_to_end_id = ?", [line.end_to_end_id]).fetchone()
                self._audit(db, by, f"payment {line.status}", run_id, contributor_id, line.end_to_end_id,
                            f"booked {line.booked_on}, statement {name}" + (f": {line.reason}" if line.reason else ""))
            settled = [r for r, in db.execute(
                """SELECT id FROM payment_runs r WHERE state = 'exported' AND NOT EXISTS (
                       SELECT 1 FROM payments p WHERE p.run_id = r.id AND p.status IN ('pending', 'sent'))""")]
            for run_id in settled:
                db.execute("UPDATE payment_runs SET state = 'settled', settled_at = ? WHERE id = ?", [now, run_id])
                self._audit(db, by, "run settled", run_id)
            db.execute("INSERT INTO bank_statements VALUES (?, ?, ?, ?, ?, ?)",
                       [sha, name, by, now, len(lines), len(apply)])
            self._audit(db, by, "bank statement imported", detail=f"{name}: {len(lines)} line(s), {len(apply)} "
                        f"applied, sha256 {sha[:12]}")
        return Imported(name, sha, len(lines), len(apply), False, settled)

    def statement_imported(self, sha256: str) -> bool:
        with self._db() as db:
            return db.execute("SELECT 1 FROM bank_statements WHERE sha256 = ?", [sha256]).fetchone() is not None

    def statements(self) -> list[tuple]:
        with self._db() as db:
            return db.execute("SELECT name, sha256, imported_by, imported_at, lines, applied FROM bank_statements "
                              "ORDER BY imported_at DESC").fetchall()

    # ---- reading -------------------------------------------------------------------------------------------
    @staticmethod
    def _run(db: sqlite3.Connection, run_id: int) -> Run:
        row = db.execute("SELECT * FROM payment_runs WHERE id = ?", [run_id]).fetchone()
        if row is None:
            raise PaymentError(f"there is no payment run {run_id}")
        return _run_of(row)

    @staticmethod
    def _items(db: sqlite3.Connection, run_id: int | None = None, contributor_id: str | None = None) -> list[Item]:
        rows = db.execute(
            """SELECT p.id, p.run_id, p.contributor_id, p.status, p.amount_minor, p.currency, p.end_to_end_id,
                      p.payee_version, p.reason, p.booked_on, p.settled_at, r.period
               FROM payments p JOIN payment_runs r ON r.id = p.run_id
               WHERE (? IS NULL OR p.run_id = ?) AND (? IS NULL OR p.contributor_id = ?)
               ORDER BY p.run_id, p.end_to_end_id IS NULL, p.end_to_end_id, p.contributor_id""",
            [run_id, run_id, contributor_id, contributor_id]).fetchall()
        return [Item(i, r, c, s, a, cur, e, v, why, date.fromisoformat(b) if b else None, _time(at),
                     date.fromisoformat(period)) for i, r, c, s, a, cur, e, v, why, b, at, period in rows]

    def run(self, run_id: int) -> Run:
        with self._db() as db:
            return self._run(db, run_id)

    def runs(self, period: date | None = None) -> list[Run]:
        with self._db() as db:
            rows = db.execute("SELECT * FROM payment_runs WHERE ? IS NULL OR period = ? ORDER BY id",
                              [period and period.isoformat()] * 2).fetchall()
        return [_run_of(r) for r in rows]

    def active_run(self, period: date) -> Run | None:
        return next((r for r in self.runs(period) if r.state in ACTIVE), None)

    def items(self, run_id: int) -> list[Item]:
        with self._db() as db:
            self._run(db, run_id)
            return self._items(db, run_id)

    def payments_of(self, contributor_id: str) -> list[Item]:
        """A contributor's items over every run (paid, failed, carried, held, in flight), newest run first."""
        with self._db() as db:
            return sorted(self._items(db, contributor_id=contributor_id), key=lambda i: -i.run_id)

    def balances(self, owed: Owed) -> list[Balance]:
        """Per contributor: owed through the month = paid + in flight + outstanding."""
        with self._db() as db:
            sums = db.execute("SELECT contributor_id, status, sum(amount_minor) FROM payments "
                              "WHERE status IN ('pending', 'sent', 'paid') GROUP BY 1, 2").fetchall()
        paid: dict[str, int] = {}
        flight: dict[str, int] = {}
        for c, status, amount in sums:
            target = paid if status == "paid" else flight
            target[c] = target.get(c, 0) + amount
        return [Balance(c, owed.amounts.get(c, 0), paid.get(c, 0), flight.get(c, 0))
                for c in sorted(set(owed.amounts) | set(paid) | set(flight))]

    def audit(self, run_id: int | None = None, limit: int = 500) -> list[tuple]:
        """(at, who, action, run, contributor, end-to-end id, detail), newest first."""
        with self._db() as db:
            return db.execute("SELECT at, who, action, run_id, contributor_id, end_to_end_id, detail "
                              "FROM payment_audit WHERE ? IS NULL OR run_id = ? ORDER BY id DESC LIMIT ?",
                              [run_id, run_id, limit]).fetchall()


def _run_of(row: tuple) -> Run:
    (run_id, period, currency, state, prepared_by, prepared_at, approved_by, approved_at, exported_by, exported_at,
     msg_id, settled_at, cancelled_by, cancelled_at) = row
    return Run(run_id, date.fromisoformat(period), currency, state, prepared_by, _time(prepared_at), approved_by,
               _time(approved_at), exported_by, _time(exported_at), msg_id, _time(settled_at), cancelled_by,
               _time(cancelled_at))


def owed_from_warehouse(warehouse, period: date, currency: str) -> Owed:
    """What is owed through `period`, read from the warehouse (a reader: never waits for the writer's lock to
    clear beyond the usual backoff)."""
    with warehouse.reader() as conn:
        return rules.owed_through(conn, period, currency, CURRENCY_DIGITS[currency])


__all__ = ["PaymentRegister", "PaymentError", "PayeeError", "StatementError", "Payee", "Run", "Item", "Imported",
           "Balance", "owed_from_warehouse", "validate_pain001"]
