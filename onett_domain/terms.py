"""The terms data is given under: a contributor agreement accepted per version, and per upload the usage terms
from a small fixed vocabulary.

An upload is read only under an accepted agreement: the version it needs is the newest one published by its
submission time (uploads submitted before any agreement existed need none), and any later version the contributor
accepted covers it too. Its terms come from a sidecar file beside it (`<file>.terms.json`) or else from the defaults
the contributor chose when accepting. Redistribution is never allowed, whatever anyone writes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import duckdb
import polars as pl


USAGES = {
    "pretraining-only": "pre-training only",
    "pretraining-and-finetuning": "pre-training and fine-tuning",
}
DEFAULT_USAGE = "pretraining-only"
SIDECAR_SUFFIX = ".terms.json"
SIDECAR_KEYS = {"usage", "evaluation_allowed", "expires", "rights_attested", "redistribution"}


class TermsError(ValueError):
    """A sidecar or a terms choice outside the vocabulary; the message says what is accepted."""


@dataclass(frozen=True)
class Agreement:
    version: str
    published_at: datetime
    sha256: str  # of the agreement text


@dataclass(frozen=True)
class Acceptance:
    contributor_id: str
    version: str
    accepted_at: datetime
    accepted_by: str
    usage: str = DEFAULT_USAGE  # the contributor's default terms for uploads without a sidecar
    evaluation_allowed: bool = False


@dataclass(frozen=True)
class Terms:
    usage: str = DEFAULT_USAGE
    evaluation_allowed: bool = False
    expires: date | None = None  # the last day the data may be used; it stops earning from that month's end on
    agreement_version: str = ""
    source: str = "platform default"  # sidecar | agreement defaults | platform default
    redistribution: str = "never"

    def to_json(self) -> str:
        data = asdict(self)
        data["expires"] = self.expires.isoformat() if self.expires else None
        return json.dumps(data, sort_keys=True, ensure_ascii=False)

    def describe(self) -> str:
        text = USAGES[self.usage] + (", evaluation allowed" if self.evaluation_allowed else ", no evaluation")
        text += ", never redistributed"
        return text + (f", until {self.expires:%Y-%m-%d}" if self.expires else "")

    def expires_at(self, tz: ZoneInfo) -> datetime | None:
        """The instant the terms end: midnight after the expiry date in the platform time zone."""
        if self.expires is None:
            return None
        return datetime.combine(self.expires + timedelta(days=1), time(), tzinfo=tz)


@dataclass(frozen=True)
class TermsDecision:
    terms: Terms | None  # None: the upload waits
    waiting: str = ""  # why it waits, in plain words
    needs_agreement: bool = False  # submitted after an agreement was published: reading it depends on consent


def check_usage(usage: str) -> str:
    if usage not in USAGES:
        raise TermsError(f"unknown usage {usage!r}: use one of {', '.join(USAGES)}")
    return usage


def parse_sidecar(text: str, name: str) -> dict:
    """The terms a sidecar sets; TermsError naming the file and the field otherwise."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TermsError(f"{name}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise TermsError(f"{name}: must be a JSON object such as "
                         '{"usage": "pretraining-only", "rights_attested": true}')
    unknown = sorted(set(data) - SIDECAR_KEYS)
    if unknown:
        raise TermsError(f"{name}: unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(SIDECAR_KEYS))})")
    if data.get("rights_attested") is not True:
        raise TermsError(f"{name}: \"rights_attested\": true is required (you hold the rights to this text)")
    if data.get("redistribution", "never") != "never":
        raise TermsError(f"{name}: redistribution can only be \"never\"")
    terms: dict = {}
    try:
        if "usage" in data:
            terms["usage"] = check_usage(data["usage"])
    except TermsError as exc:
        raise TermsError(f"{name}: {exc}") from None
    if "evaluation_allowed" in data:
        if not isinstance(data["evaluation_allowed"], bool):
            raise TermsError(f"{name}: evaluation_allowed must be true or false")
        terms["evaluation_allowed"] = data["evaluation_allowed"]
    if data.get("expires") is not None:
        try:
            terms["expires"] = date.fromisoformat(str(data["expires"]))
        except ValueError:
            raise TermsError(f"{name}: expires must be a date, YYYY-MM-DD (got {data['expires']!r})") from None
    return terms


def required_agreement(agreements: list[Agreement], submitted_at: datetime) -> Agreement | None:
    """The newest agreement published by the upload's submission time (None before the first one)."""
    published = [a for a in agreements if a.published_at <= submitted_at]
    return max(published, key=lambda a: a.published_at) if published else None


def decide_terms(agreements: list[Agreement], acceptances: list[Acceptance], submitted_at: datetime,
                 sidecar: tuple[str, str] | None) -> TermsDecision:
    """The terms an upload is read under, or why it waits. `agreements` in publication order; `sidecar`:
    (its name, its text) when there is one."""
    order = {a.version: i for i, a in enumerate(sorted(agreements, key=lambda a: a.published_at))}
    needed = required_agreement(agreements, submitted_at)
    covering = [a for a in acceptances if a.version in order
                and (needed is None or order[a.version] >= order[needed.version])]
    latest = max(covering, key=lambda a: order[a.version], default=None)
    needs = needed is not None
    if needs and latest is None:
        return TermsDecision(None, f"waiting for the contributor to accept agreement version {needed.version} "
                                   "(in the portal, or recorded by the operator)", needs)
    base = Terms(agreement_version=latest.version if latest else "")
    if latest is not None:
        base = Terms(latest.usage, latest.evaluation_allowed, None, latest.version, "agreement defaults")
    if sidecar is None:
        return TermsDecision(base, "", needs)
    try:
        chosen = parse_sidecar(sidecar[1], sidecar[0])
    except TermsError as exc:
        return TermsDecision(None, f"terms: {exc}; fix or remove the sidecar and the file is read", needs)
    merged = {**asdict(base), **chosen, "source": "sidecar"}
    return TermsDecision(Terms(**merged), "", needs)


def submission_consent(agreements: list[Agreement], acceptances: list[Acceptance], uploads: list) -> str:
    """The consent part of a submission's fingerprint: the contributor's acceptances when any of its uploads
    needed an agreement, else ''."""
    if any(required_agreement(agreements, u.submitted_at) for u in uploads):
        return consent_token(acceptances) or "none"
    return ""


def consent_token(acceptances: list[Acceptance]) -> str:
    """What an upload's waiting depends on, for the submission's fingerprint: the versions the contributor
    accepted, with the defaults chosen ('' when none, so submissions without agreements keep their fingerprint)."""
    return ";".join(sorted(f"{a.version}:{a.usage}:{int(a.evaluation_allowed)}" for a in acceptances))


def upload_terms(conn: duckdb.DuckDBPyConnection, contributor_id: str, period: date, tz: ZoneInfo) -> pl.DataFrame:
    """The terms of the submission's uploads now in, with the instant each ends: what their documents carry."""
    uploads = conn.execute("SELECT file, submitted_at, terms FROM uploads WHERE contributor_id = ? AND period = ? "
                           "AND withdrawn_at IS NULL AND terms <> ''", [contributor_id, period]).fetchall()
    return pl.DataFrame(
        {"file": [f for f, _, _ in uploads], "submitted_at": [at for _, at, _ in uploads],
         "terms": [t for _, _, t in uploads],
         "terms_expire_at": [terms_from_json(t).expires_at(tz) for _, _, t in uploads]},
        schema={"file": pl.String, "submitted_at": pl.Datetime("us", "UTC"), "terms": pl.String,
                "terms_expire_at": pl.Datetime("us", "UTC")})


def terms_from_json(text: str) -> Terms:
    data = json.loads(text)
    data["expires"] = date.fromisoformat(data["expires"]) if data.get("expires") else None
    return Terms(**data)
