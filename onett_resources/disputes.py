"""Disputed statements: a contributor questions a closed month, the operator answers, and the dispute is resolved
with no change or with an adjustment.

A SQLite register of its own tables beside the payment runs (the portal writes it while the pipeline holds the
warehouse's single writer). A closed month is never edited: an adjustment decided here is copied into the
warehouse's `payout_adjustments` by the next `payouts` materialization (onett_domain.disputes.
record_dispute_adjustments) and paid with the next month that closes, like any recomputation. Messages are only
ever added; a resolution is set once."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from dagster import ConfigurableResource

from onett_domain.disputes import MAX_MESSAGE, Dispute, DisputeError, Message
from onett_resources.registers import open_register

SCHEMA = """
CREATE TABLE IF NOT EXISTS disputes (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    contributor_id TEXT NOT NULL,
    period         TEXT NOT NULL,          -- the closed month disputed, YYYY-MM-01
    opened_by      TEXT NOT NULL,
    opened_at      TEXT NOT NULL,          -- ISO 8601, UTC
    resolution     TEXT CHECK (resolution IN ('no_change', 'adjustment')),  -- NULL while open
    amount         TEXT,                   -- the adjustment, exact decimal in the currency (either sign)
    currency       TEXT,
    resolved_by    TEXT,
    resolved_at    TEXT
);
CREATE TABLE IF NOT EXISTS dispute_messages (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    dispute_id     INTEGER NOT NULL REFERENCES disputes(id),
    author         TEXT NOT NULL,          -- the portal account, or the operator's name on the command line
    role           TEXT NOT NULL CHECK (role IN ('contributor', 'operator')),
    written_at     TEXT NOT NULL,
    text           TEXT NOT NULL
);
"""
def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _text(text: str, what: str) -> str:
    text = text.strip()
    if not text:
        raise DisputeError(f"{what} needs a message")
    return text[:MAX_MESSAGE]


class DisputeRegister(ConfigurableResource):
    path: str

    def _db(self):
        return open_register(self.path, SCHEMA)

    def open_dispute(self, contributor_id: str, period: date, opened_by: str, message: str,
                     closed_months: set[date]) -> Dispute:
        """A contributor disputes a closed month's statement; one open dispute per month at a time."""
        period = period.replace(day=1)
        if period not in closed_months:
            raise DisputeError(f"{period:%Y-%m} is not closed yet: its statement can still change without a dispute")
        text = _text(message, "a dispute")
        with self._db() as db:
            if db.execute("SELECT 1 FROM disputes WHERE contributor_id = ? AND period = ? AND resolution IS NULL",
                          [contributor_id, period.isoformat()]).fetchone():
                raise DisputeError(f"{contributor_id} already has an open dispute about {period:%Y-%m}")
            at = _now()
            dispute_id = db.execute(
                "INSERT INTO disputes (contributor_id, period, opened_by, opened_at) VALUES (?, ?, ?, ?)",
                [contributor_id, period.isoformat(), opened_by, at]).lastrowid
            db.execute("INSERT INTO dispute_messages (dispute_id, author, role, written_at, text) "
                       "VALUES (?, ?, 'contributor', ?, ?)", [dispute_id, opened_by, at, text])
        return self.dispute(dispute_id)

    def write(self, dispute_id: int, author: str, role: str, message: str,
              contributor_id: str | None = None) -> Dispute:
        """Add to the thread of an open dispute; `contributor_id` (for a contributor) must own it."""
        text = _text(message, "a reply")
        with self._db() as db:
            row = db.execute("SELECT contributor_id, resolution FROM disputes WHERE id = ?", [dispute_id]).fetchone()
            if row is None or (contributor_id is not None and row[0] != contributor_id):
                raise DisputeError(f"there is no dispute {dispute_id}")
            if row[1] is not None:
                raise DisputeError(f"dispute {dispute_id} is resolved; open a new one to question it again")
            db.execute("INSERT INTO dispute_messages (dispute_id, author, role, written_at, text) "
                       "VALUES (?, ?, ?, ?, ?)", [dispute_id, author, role, _now(), text])
        return self.dispute(dispute_id)

    def resolve(self, dispute_id: int, resolved_by: str, message: str, adjustment: Decimal | None = None,
                currency: str | None = None) -> Dispute:
        """Close a dispute with the operator's last word: no change, or an adjustment paid with the next month
        that closes (a positive amount is owed to the contributor, a negative one taken back)."""
        text = _text(message, "a resolution")
        if adjustment is not None and (adjustment == 0 or not currency):
            raise DisputeError("an adjustment needs a non-zero amount and its currency")
        with self._db() as db:
            row = db.execute("SELECT resolution FROM disputes WHERE id = ?", [dispute_id]).fetchone()
            if row is None:
                raise DisputeError(f"there is no dispute {dispute_id}")
            if row[0] is not None:
                raise DisputeError(f"dispute {dispute_id} was already resolved ({row[0].replace('_', ' ')})")
            at = _now()
            db.execute("INSERT INTO dispute_messages (dispute_id, author, role, written_at, text) "
                       "VALUES (?, ?, 'operator', ?, ?)", [dispute_id, resolved_by, at, text])
            db.execute("UPDATE disputes SET resolution = ?, amount = ?, currency = ?, resolved_by = ?, resolved_at = ? "
                       "WHERE id = ?", ["adjustment" if adjustment is not None else "no_change",
                                        str(adjustment) if adjustment is not None else None,
                                        currency if adjustment is not None else None, resolved_by, at, dispute_id])
        return self.dispute(dispute_id)

    def dispute(self, dispute_id: int) -> Dispute:
        found = self.disputes(dispute_id=dispute_id)
        if not found:
            raise DisputeError(f"there is no dispute {dispute_id}")
        return found[0]

    def disputes(self, contributor_id: str | None = None, open_only: bool = False,
                 dispute_id: int | None = None) -> list[Dispute]:
        """Disputes with their threads, newest first; a contributor's only with `contributor_id`."""
        query = ("SELECT * FROM disputes WHERE (? IS NULL OR contributor_id = ?) AND (? IS NULL OR id = ?)"
                 + (" AND resolution IS NULL" if open_only else "") + " ORDER BY id DESC")
        with self._db() as db:
            rows = db.execute(query, [contributor_id, contributor_id, dispute_id, dispute_id]).fetchall()
            threads: dict[int, list[Message]] = {}
            for d, author, role, at, text in db.execute(
                    "SELECT dispute_id, author, role, written_at, text FROM dispute_messages ORDER BY id"):
                threads.setdefault(d, []).append(Message(author, role, _time(at), text))
        return [Dispute(i, c, date.fromisoformat(p), by, _time(at), res, Decimal(a) if a is not None else None, cur,
                        rby, _time(rat), tuple(threads.get(i, ())))
                for i, c, p, by, at, res, a, cur, rby, rat in rows]

    def adjustments(self) -> list[Dispute]:
        """Disputes resolved with an adjustment, oldest first: what the payouts carry into the next close."""
        return sorted((d for d in self.disputes() if d.resolution == "adjustment"), key=lambda d: d.id)
