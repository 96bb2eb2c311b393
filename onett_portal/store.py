"""The portal's own SQLite database: accounts, sessions, sign-in attempts, known browsers, uploads and paid-month
marks.

Kept apart from the DuckDB warehouse on purpose: the warehouse has one writer, the pipeline, and the portal
only ever reads it. One short-lived SQLite connection per call keeps this safe from any thread."""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from onett_resources.durable import make_private

PENDING_SECONDS = 60  # an attempt still "being checked" after this long belonged to a process that died

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    name           TEXT PRIMARY KEY,
    role           TEXT NOT NULL CHECK (role IN ('contributor', 'operator')),
    contributor_id TEXT,                   -- the landing folder this account may see and upload into
    password_hash  TEXT NOT NULL,          -- scrypt$n$r$p$salt$hash (base64)
    created_at     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash     TEXT PRIMARY KEY,       -- sha256 of the cookie value; the value itself is never stored
    account        TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
    csrf           TEXT NOT NULL,
    created_at     REAL NOT NULL,
    expires_at     REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS signin_failures (
    scope          TEXT NOT NULL,          -- 'account:<name>', 'client:<address>' or 'device:<token hash>'
    at             REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS signin_failures_scope ON signin_failures (scope, at);
CREATE TABLE IF NOT EXISTS signin_pending (
    scope          TEXT NOT NULL,          -- an attempt whose password is being checked right now
    at             REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS known_devices (
    token_hash     TEXT PRIMARY KEY,       -- sha256 of the device cookie of a browser that signed in before
    account        TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
    expires_at     REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (
    contributor_id TEXT NOT NULL,
    file           TEXT NOT NULL,          -- the name it was saved under in the landing folder
    original_name  TEXT NOT NULL,
    bytes          INTEGER NOT NULL,
    sha256         TEXT NOT NULL,
    uploaded_by    TEXT NOT NULL,
    uploaded_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS month_marks (
    period         TEXT PRIMARY KEY,       -- YYYY-MM
    state          TEXT NOT NULL CHECK (state IN ('paid')),
    marked_by      TEXT NOT NULL,
    marked_at      TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    contributor_id: str | None
    password_hash: str
    created_at: str

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"


def _now_text() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class PortalStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():  # password hashes and sessions: the platform user's only, whatever the umask
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        make_private(self.path)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=10000")
            yield conn
        finally:
            conn.close()

    # accounts
    def add_account(self, name: str, role: str, contributor_id: str | None, password_hash: str) -> None:
        with self._connect() as conn:
            conn.execute("INSERT INTO accounts VALUES (?, ?, ?, ?, ?)",
                         [name, role, contributor_id, password_hash, _now_text()])

    def account(self, name: str) -> Account | None:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM accounts WHERE name = ?", [name]).fetchone()
        return Account(*row) if row else None

    def accounts(self) -> list[Account]:
        with self._connect() as conn:
            return [Account(*row) for row in conn.execute("SELECT * FROM accounts ORDER BY role, name")]

    def remove_account(self, name: str) -> bool:
        with self._connect() as conn:
            conn.execute("DELETE FROM sessions WHERE account = ?", [name])
            return conn.execute("DELETE FROM accounts WHERE name = ?", [name]).rowcount > 0

    def set_password(self, name: str, password_hash: str) -> bool:
        with self._connect() as conn:
            conn.execute("DELETE FROM sessions WHERE account = ?", [name])
            return conn.execute("UPDATE accounts SET password_hash = ? WHERE name = ?", [password_hash, name]).rowcount > 0

    # sessions
    def add_session(self, token_hash: str, account: str, csrf: str, expires_at: float) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM sessions WHERE expires_at < ?", [time.time()])
            conn.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)", [token_hash, account, csrf, time.time(), expires_at])

    def session(self, token_hash: str) -> tuple[Account, str, float] | None:
        """The account, CSRF token and expiry of a live session."""
        with self._connect() as conn:
            row = conn.execute(
                """SELECT a.*, s.csrf, s.expires_at FROM sessions s JOIN accounts a ON a.name = s.account
                   WHERE s.token_hash = ? AND s.expires_at > ?""",
                [token_hash, time.time()],
            ).fetchone()
        return (Account(*row[:5]), row[5], row[6]) if row else None

    def remove_session(self, token_hash: str) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM sessions WHERE token_hash = ?", [token_hash])

    # sign-in attempts
    def begin_attempt(self, scopes: list[str], now: float, since: float,
                      wait: Callable[[str, list[float], list[float]], float]) -> tuple[float, list[int]]:
        """Count an attempt against each scope before its password is checked, in one write transaction, so
        parallel guesses queue here and each sees the ones before it. `wait(scope, failures, pending)` says how long
        the scope must wait given its recent failures and the attempts being checked right now. (seconds to wait,
        []) when a scope must wait; else (0, the attempt's pending row ids) for `end_attempt`."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM signin_failures WHERE at < ?", [since - 86400])
                conn.execute("DELETE FROM signin_pending WHERE at < ?", [now - PENDING_SECONDS])  # a crashed check
                longest = max(wait(scope, *[[r[0] for r in conn.execute(
                    f"SELECT at FROM {table} WHERE scope = ? AND at >= ? ORDER BY at", [scope, since])]
                    for table in ("signin_failures", "signin_pending")]) for scope in scopes)
                ids = [] if longest > 0 else [
                    conn.execute("INSERT INTO signin_pending VALUES (?, ?)", [s, now]).lastrowid for s in scopes]
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return max(longest, 0.0), ids

    def end_attempt(self, ids: list[int], failed: bool) -> None:
        """The attempt's password was checked: a failure is recorded against its scopes, a success leaves nothing."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            if failed:
                conn.execute("INSERT INTO signin_failures SELECT scope, at FROM signin_pending WHERE rowid IN "
                             f"({', '.join('?' * len(ids))})", ids)
            conn.executemany("DELETE FROM signin_pending WHERE rowid = ?", [[i] for i in ids])
            conn.execute("COMMIT")

    def failures_since(self, scope: str, since: float) -> list[float]:
        with self._connect() as conn:
            return [r[0] for r in conn.execute(
                "SELECT at FROM signin_failures WHERE scope = ? AND at >= ? ORDER BY at", [scope, since])]

    # browsers that signed in before
    def add_device(self, token_hash: str, account: str, expires_at: float) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM known_devices WHERE expires_at < ?", [time.time()])
            conn.execute("INSERT INTO known_devices VALUES (?, ?, ?)", [token_hash, account, expires_at])

    def known_device(self, token_hash: str, account: str) -> bool:
        with self._connect() as conn:
            return conn.execute("SELECT 1 FROM known_devices WHERE token_hash = ? AND account = ? AND expires_at > ?",
                                [token_hash, account, time.time()]).fetchone() is not None

    def clear_failures(self, scope: str) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM signin_failures WHERE scope = ?", [scope])

    # uploads (an audit trail of what came in through the portal)
    def record_upload(self, contributor_id: str, file: str, original_name: str, size: int, sha256: str, by: str) -> None:
        with self._connect() as conn:
            conn.execute("INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [contributor_id, file, original_name, size, sha256, by, _now_text()])

    def uploads(self, contributor_id: str) -> dict[str, tuple[str, str]]:
        """file -> (uploaded_by, uploaded_at) for one contributor."""
        with self._connect() as conn:
            return {f: (b, a) for f, b, a in conn.execute(
                "SELECT file, uploaded_by, uploaded_at FROM uploads WHERE contributor_id = ?", [contributor_id])}

    # paid months
    def mark_paid(self, period: str, by: str) -> None:
        with self._connect() as conn:
            conn.execute("INSERT OR IGNORE INTO month_marks VALUES (?, 'paid', ?, ?)", [period, by, _now_text()])

    def paid_months(self) -> dict[str, tuple[str, datetime]]:
        """YYYY-MM -> (marked_by, marked_at)."""
        with self._connect() as conn:
            return {p: (b, datetime.fromisoformat(a))
                    for p, b, a in conn.execute("SELECT period, marked_by, marked_at FROM month_marks")}
