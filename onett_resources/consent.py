"""The consent register: contributor agreements by version, who accepted which and how, 1T Club membership
applications and their decisions, and erasure requests.

A small SQLite file of its own (path in settings): the portal writes acceptances and erasure requests while the
pipeline holds the warehouse's single writer, and the pipeline reads them when it decides whether an upload may be
read. Rows are only ever added (an erasure request is marked done, never deleted): it is the record of who agreed
to what, from where, and when."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Callable

from dagster import ConfigurableResource

from onett_domain.policy import Policy
from onett_domain.terms import Acceptance, Agreement, TermsDecision, check_usage, decide_terms, submission_consent
from onett_domain.uploads import Upload
from onett_resources.registers import open_register

SCHEMA = """
CREATE TABLE IF NOT EXISTS agreements (
    version        TEXT PRIMARY KEY,
    text           TEXT NOT NULL,
    sha256         TEXT NOT NULL,
    published_at   TEXT NOT NULL,          -- ISO 8601, UTC
    published_by   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS acceptances (
    contributor_id TEXT NOT NULL,
    version        TEXT NOT NULL REFERENCES agreements(version),
    accepted_by    TEXT NOT NULL,          -- the portal account, or the operator who recorded a signed copy
    accepted_at    TEXT NOT NULL,
    address        TEXT NOT NULL,          -- where from: the client address, or 'recorded by operator'
    user_agent     TEXT NOT NULL,
    usage          TEXT NOT NULL,          -- default terms for this contributor's uploads without a sidecar
    evaluation_allowed INTEGER NOT NULL,
    PRIMARY KEY (contributor_id, version)
);
CREATE TABLE IF NOT EXISTS membership_applications (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    contributor_id TEXT NOT NULL,
    applied_by     TEXT NOT NULL,
    applied_at     TEXT NOT NULL,
    words          INTEGER NOT NULL,       -- words contributed when applying
    message        TEXT NOT NULL,
    decision       TEXT NOT NULL DEFAULT 'pending' CHECK (decision IN ('pending', 'approved', 'declined')),
    decided_by     TEXT,
    decided_at     TEXT,
    reason         TEXT                    -- why, in the operator's words
);
CREATE TABLE IF NOT EXISTS erasure_requests (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    contributor_id TEXT NOT NULL,
    file           TEXT NOT NULL,          -- '*' for everything the contributor uploaded
    sha256         TEXT NOT NULL,          -- of the erased bytes ('' for '*'): the same bytes are never read again
    requested_by   TEXT NOT NULL,
    reason         TEXT NOT NULL,
    requested_at   TEXT NOT NULL,
    done_at        TEXT                    -- when every copy was destroyed
);
"""


class ConsentError(ValueError):
    """A request the register refuses, with the reason."""


@dataclass(frozen=True)
class Application:
    id: int
    contributor_id: str
    applied_by: str
    applied_at: datetime
    words: int
    message: str
    decision: str  # pending | approved | declined
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None


@dataclass(frozen=True)
class ErasureRequest:
    id: int
    contributor_id: str
    file: str
    sha256: str
    requested_by: str
    reason: str
    requested_at: datetime
    done_at: datetime | None


@dataclass(frozen=True)
class Admission:
    """What of a submission may be read: the terms of each upload (or why it waits) and the bytes erased before."""

    terms: Callable[[Upload], TermsDecision]
    erased: dict[str, str] = field(default_factory=dict)  # sha256 -> note on its erasure
    consent: str = ""  # the submission's consent fingerprint (onett_domain.terms.submission_consent)


def admit_everything(upload: Upload) -> TermsDecision:
    """Platform default terms, for a platform without agreements (and tests of other concerns)."""
    return decide_terms([], [], upload.submitted_at, None)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class ConsentRegistry(ConfigurableResource):
    path: str

    def _db(self):
        return open_register(self.path, SCHEMA)

    # Agreements

    def publish_agreement(self, version: str, text: str, published_by: str) -> Agreement:
        version, text = version.strip(), text.strip()
        if not version or not text:
            raise ConsentError("an agreement needs a version and a text")
        with self._db() as db:
            if db.execute("SELECT 1 FROM agreements WHERE version = ?", [version]).fetchone():
                raise ConsentError(f"agreement version {version} is already published; versions never change, "
                                   "publish a new one")
            at = _now()
            sha = hashlib.sha256(text.encode()).hexdigest()
            db.execute("INSERT INTO agreements VALUES (?, ?, ?, ?, ?)", [version, text, sha, at, published_by])
        return Agreement(version, _time(at), sha)

    def agreements(self) -> list[Agreement]:
        with self._db() as db:
            rows = db.execute("SELECT version, published_at, sha256 FROM agreements ORDER BY published_at").fetchall()
        return [Agreement(v, _time(at), sha) for v, at, sha in rows]

    def current_agreement(self) -> tuple[Agreement, str] | None:
        """The newest agreement and its text, or None when the operator has published none."""
        with self._db() as db:
            row = db.execute("SELECT version, published_at, sha256, text FROM agreements "
                             "ORDER BY published_at DESC LIMIT 1").fetchone()
        return (Agreement(row[0], _time(row[1]), row[2]), row[3]) if row else None

    def accept(self, contributor_id: str, version: str, accepted_by: str, address: str, user_agent: str = "",
               usage: str = "pretraining-only", evaluation_allowed: bool = False) -> Acceptance:
        check_usage(usage)
        with self._db() as db:
            if not db.execute("SELECT 1 FROM agreements WHERE version = ?", [version]).fetchone():
                raise ConsentError(f"there is no agreement version {version}")
            at = _now()
            db.execute("INSERT INTO acceptances VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                       [contributor_id, version, accepted_by, at, address, user_agent[:300], usage,
                        int(evaluation_allowed)])
        return self.acceptances(contributor_id)[-1]

    def acceptances(self, contributor_id: str | None) -> list[Acceptance]:
        """A contributor's acceptances (everyone's with None), oldest first."""
        with self._db() as db:
            rows = db.execute("SELECT contributor_id, version, accepted_at, accepted_by, usage, evaluation_allowed "
                              "FROM acceptances WHERE ? IS NULL OR contributor_id = ? ORDER BY accepted_at",
                              [contributor_id, contributor_id]).fetchall()
        return [Acceptance(c, v, _time(at), by, u, bool(e)) for c, v, at, by, u, e in rows]

    def acceptance_log(self) -> list[tuple]:
        """Every acceptance with who, when and from where: the operator's record."""
        with self._db() as db:
            return db.execute("SELECT contributor_id, version, accepted_by, accepted_at, address, user_agent, usage, "
                              "evaluation_allowed FROM acceptances ORDER BY accepted_at").fetchall()

    def admission(self, contributor_id: str, uploads: list[Upload],
                  sidecar: Callable[[Upload], tuple[str, str] | None]) -> Admission:
        agreements, acceptances = self.agreements(), self.acceptances(contributor_id)
        erased = {sha: f"erased on {r.requested_at:%Y-%m-%d} at the request of {r.requested_by}; never read again"
                  for sha, r in self.erased_content(contributor_id).items()}
        return Admission(lambda u: decide_terms(agreements, acceptances, u.submitted_at, sidecar(u)), erased,
                         submission_consent(agreements, acceptances, uploads))

    def consent_lookup(self) -> Callable[[str, list[Upload]], str] | None:
        """The consent part of each submission's fingerprint, as `admission` records it, from one read of the
        register (the planner asks for every submission on every sensor tick); None without agreements."""
        agreements = self.agreements()
        if not agreements:
            return None
        by_contributor: dict[str, list[Acceptance]] = {}
        for acceptance in self.acceptances(None):
            by_contributor.setdefault(acceptance.contributor_id, []).append(acceptance)
        return lambda contributor_id, uploads: submission_consent(agreements, by_contributor.get(contributor_id, []),
                                                                  uploads)

    # 1T Club membership

    def apply_membership(self, contributor_id: str, applied_by: str, words: int, threshold: int,
                         message: str = "") -> Application:
        """A contributor's application; refused below the threshold, while one is pending, or once a member."""
        current = self.applications(contributor_id)
        if current and current[-1].decision == "pending":
            raise ConsentError(f"{contributor_id} has an application pending since {current[-1].applied_at:%Y-%m-%d}")
        if current and current[-1].decision == "approved":
            raise ConsentError(f"{contributor_id} is a member already")
        if words <= threshold:
            raise ConsentError(f"membership needs more than {threshold:,} words contributed; {contributor_id} has "
                               f"{words:,}")
        with self._db() as db:
            db.execute("INSERT INTO membership_applications (contributor_id, applied_by, applied_at, words, message) "
                       "VALUES (?, ?, ?, ?, ?)", [contributor_id, applied_by, _now(), words, message.strip()[:2000]])
        return self.applications(contributor_id)[-1]

    def decide_membership(self, application_id: int, approve: bool, decided_by: str, reason: str) -> Application:
        if not reason.strip():
            raise ConsentError("a decision needs a reason (the contributor sees it)")
        with self._db() as db:
            row = db.execute("SELECT contributor_id, decision FROM membership_applications WHERE id = ?",
                             [application_id]).fetchone()
            if row is None:
                raise ConsentError(f"there is no membership application {application_id}")
            if row[1] != "pending":
                raise ConsentError(f"application {application_id} was already {row[1]}")
            db.execute("UPDATE membership_applications SET decision = ?, decided_by = ?, decided_at = ?, reason = ? "
                       "WHERE id = ?", ["approved" if approve else "declined", decided_by, _now(), reason.strip(),
                                        application_id])
        return next(a for a in self.applications(row[0]) if a.id == application_id)

    def applications(self, contributor_id: str | None = None, pending: bool = False) -> list[Application]:
        query = "SELECT * FROM membership_applications WHERE (? IS NULL OR contributor_id = ?)"
        query += " AND decision = 'pending'" if pending else ""
        with self._db() as db:
            rows = db.execute(query + " ORDER BY id", [contributor_id, contributor_id]).fetchall()
        return [Application(i, c, by, _time(at), w, m, d, dby, _time(dat), r)
                for i, c, by, at, w, m, d, dby, dat, r in rows]

    def members(self) -> frozenset[str]:
        """Contributors whose latest application was approved."""
        latest: dict[str, str] = {}
        for application in self.applications():
            latest[application.contributor_id] = application.decision
        return frozenset(c for c, d in latest.items() if d == "approved")

    def sharing(self, policy: Policy) -> Policy:
        """The policy with the approved members, when the revenue share requires membership."""
        return replace(policy, members=self.members()) if policy.share_requires_membership else policy

    # Erasure

    def request_erasure(self, contributor_id: str, file: str, sha256: str, requested_by: str,
                        reason: str) -> ErasureRequest:
        if not reason.strip():
            raise ConsentError("an erasure needs a reason (it is kept with the record)")
        with self._db() as db:
            cursor = db.execute(
                "INSERT INTO erasure_requests (contributor_id, file, sha256, requested_by, reason, requested_at) "
                "VALUES (?, ?, ?, ?, ?, ?)", [contributor_id, file, sha256, requested_by, reason.strip(), _now()])
            request_id = cursor.lastrowid
        return next(r for r in self.erasures(contributor_id) if r.id == request_id)

    def erasures(self, contributor_id: str | None = None, pending: bool = False) -> list[ErasureRequest]:
        query = "SELECT * FROM erasure_requests WHERE (? IS NULL OR contributor_id = ?)"
        query += " AND done_at IS NULL" if pending else ""
        with self._db() as db:
            rows = db.execute(query + " ORDER BY id", [contributor_id, contributor_id]).fetchall()
        return [ErasureRequest(i, c, f, s, by, why, _time(at), _time(done)) for i, c, f, s, by, why, at, done in rows]

    def erased_content(self, contributor_id: str) -> dict[str, ErasureRequest]:
        """sha256 -> its erasure: bytes a contributor had erased are never read again (say, from a backup)."""
        return {r.sha256: r for r in self.erasures(contributor_id) if r.sha256}

    def contributor_erased(self, contributor_id: str) -> ErasureRequest | None:
        return next((r for r in self.erasures(contributor_id) if r.file == "*"), None)

    def mark_done(self, request_id: int) -> None:
        with self._db() as db:
            db.execute("UPDATE erasure_requests SET done_at = ? WHERE id = ? AND done_at IS NULL", [_now(), request_id])
