"""What needs processing: the uploads now in the landing zone, grouped into submissions (contributor x month) and
compared with the fingerprint each submission's result was last computed from. The sensor and `onett ingest`
share this, so a file is processed once whichever of them sees it first, and a restarted daemon finds nothing new."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Callable

from onett_domain.policy import Policy
from onett_domain.uploads import CONTRIBUTOR_ID_RULE, Upload, fingerprint, valid_contributor_id

Submission = tuple[str, date]  # (contributor_id, period)


@dataclass
class PendingSubmission:
    contributor_id: str
    period: date
    fingerprint: str
    uploads: list[Upload]

    @property
    def size(self) -> int:
        return sum(u.size for u in self.uploads)

    def youngest_age(self, now: float) -> float:
        return min((u.age_seconds(now) for u in self.uploads), default=float("inf"))


@dataclass
class IngestPlan:
    pending: list[PendingSubmission] = field(default_factory=list)
    new_contributors: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # what cannot be processed now, and why
    alerts: list[str] = field(default_factory=list)  # accidents an operator must look at; nothing was changed


def group_uploads(uploads: list[Upload], policy: Policy, this_month: date) -> tuple[dict[Submission, list[Upload]],
                                                                                    list[str]]:
    """The uploads by submission, and why the others cannot be processed now."""
    groups: dict[Submission, list[Upload]] = defaultdict(list)
    ignored: list[str] = []
    for upload in uploads:
        if not valid_contributor_id(upload.contributor_id):
            reason = f"{upload.contributor_id!r}: {CONTRIBUTOR_ID_RULE}"
            if reason not in ignored:
                ignored.append(reason)
            continue
        period = upload.period(policy.tz, policy.first_period)
        if period > this_month:
            ignored.append(f"{upload.contributor_id}/{upload.file}: modified in the future "
                           f"({upload.submitted_at:%Y-%m-%d %H:%M} UTC); it is processed once its month has begun")
            continue
        groups[(upload.contributor_id, period)].append(upload)
    return dict(groups), ignored


def plan_ingest(groups: dict[Submission, list[Upload]], ignored: list[str], known_contributors: set[str],
                computed: dict[Submission, str | None], reference_fingerprint: str,
                consent: Callable[[str, list[Upload]], str] | None = None,
                folder_problems: dict[str, str] | None = None) -> IngestPlan:
    """`computed`: for every submission computed before, the fingerprint it was computed from (None if unknown); one
    whose files all disappeared is then processed again, and its uploads withdrawn. `consent`: the agreements state
    that decides whether a contributor's uploads wait (see onett_domain.terms.consent_token). `folder_problems`:
    contributors whose folder cannot be read as it is (a symbolic link, gone): their submissions are left exactly
    as they were, with an alert, since an accident in the file system must not become a withdrawal."""
    plan = IngestPlan(ignored=list(ignored))
    plan.new_contributors = sorted({c for c, _ in groups} - known_contributors)
    problems = folder_problems or {}
    plan.alerts = [f"{problem}: its uploads are kept as they were and nothing of it is processed until the folder "
                   "is back (a contributor withdraws by removing files, not the folder)" for problem in problems.values()]
    for key in sorted(set(groups) | set(computed)):
        if key[0] in problems:
            continue
        files = groups.get(key, [])
        current = fingerprint([(u.file, u.size, u.mtime_ns, u.terms_stamp) for u in files], reference_fingerprint,
                              consent(key[0], files) if consent and files else "")
        if computed.get(key) != current:
            plan.pending.append(PendingSubmission(key[0], key[1], current, files))
    return plan
