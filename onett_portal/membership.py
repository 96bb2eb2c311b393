"""1T Club membership in the portal: a contributor's progress and application on the dashboard, and the operator's
page that decides applications.

The register (onett_resources.consent) is the record and refuses what it must (below the threshold, pending
already, member already, a decision without a reason); these pages only read the words at the moment of applying,
take the contributor from the signed-in account, never from a form, and say each refusal in the page's language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from onett_domain.membership import Progress
from onett_portal import reads
from onett_portal.auth import SignedIn
from onett_portal.reads import WarehouseBusy
from onett_resources.consent import Application, ConsentError

MAX_MESSAGE = 2000
MAX_REASON = 500
DECISIONS = {"approve": True, "decline": False}


@dataclass(frozen=True)
class Standing:
    """Where one contributor stands: words against the threshold and their latest application."""

    progress: Progress
    latest: Application | None
    members_only: bool  # the revenue share is paid to members only

    @property
    def status(self) -> str:
        """not_eligible | eligible | pending | member | declined"""
        if self.latest is not None:
            return {"pending": "pending", "approved": "member", "declined": "declined"}[self.latest.decision]
        return "eligible" if self.progress.eligible else "not_eligible"

    @property
    def can_apply(self) -> bool:
        return self.progress.eligible and self.status not in ("pending", "member")

    @property
    def words_left(self) -> int:
        """Words still needed: membership takes more than the threshold."""
        return max(self.progress.threshold + 1 - self.progress.words, 0)


def latest_applications(applications: list[Application]) -> dict[str, Application]:
    latest: dict[str, Application] = {}
    for application in applications:  # oldest first: the last one wins
        latest[application.contributor_id] = application
    return latest


def refusal(t, tz, standing: Standing, error: ConsentError) -> str:
    """The register's refusal of an application, in the page's language when it is one of the known reasons."""
    latest = standing.latest
    if latest is not None and latest.decision == "pending":
        return t("membership_already_pending", date=t.day(latest.applied_at.astimezone(tz)))
    if latest is not None and latest.decision == "approved":
        return t("membership_already_member")
    if not standing.progress.eligible:
        return t("membership_below", threshold=t.num(standing.progress.threshold), words=t.num(standing.progress.words))
    return t("membership_refused", reason=str(error))


class MembershipPages:
    """The contributor's application and the operator's decisions."""

    def __init__(self, portal):
        self.p = portal  # the app's Portal: its guard, rendering, reads and the consent register

    @property
    def threshold(self) -> int:
        return self.p.settings.membership_words

    def standing(self, progress: Progress) -> Standing:
        applications = self.p.registry.applications(progress.contributor_id)
        return Standing(progress, applications[-1] if applications else None,
                        self.p.settings.share_requires_membership)

    def when(self, moment: datetime | None) -> datetime | None:
        """A register time (UTC) in the platform's time zone, so dates read as the contributor's calendar."""
        return moment.astimezone(self.p.policy.tz) if moment else None

    # ---- the contributor applies ----------------------------------------------------------------------------
    async def apply(self, request: Request) -> Response:
        posted = await self.p.signed_form(request, "contributor")
        if isinstance(posted, Response):
            return posted
        who, form = posted
        outcome, refused = await run_in_threadpool(self._apply, request, who, str(form.get("message", "")))
        if refused is None:  # the dashboard says how it went; reloading it never posts again
            return RedirectResponse(f"/?membership={outcome}#membership", status_code=303)
        return await run_in_threadpool(self.p.own_view, request, who, [("error", refused)], 400)

    def _apply(self, request: Request, who: SignedIn, message: str) -> tuple[str, str | None]:
        """('applied', None), ('busy', None) when the words cannot be read now, or ('refused', why)."""
        contributor_id, threshold = who.account.contributor_id, self.threshold
        try:
            snap = self.p.read(("membership", contributor_id, threshold),
                               lambda conn: reads.membership_progress(conn, threshold, contributor_id))
        except WarehouseBusy:
            return "busy", None
        if snap.stale:  # the words of an earlier read may no longer hold: an application counts the words of now
            return "busy", None
        try:
            self.p.registry.apply_membership(contributor_id, who.account.name, snap.value.words, threshold,
                                             message.strip()[:MAX_MESSAGE])
        except ConsentError as exc:
            return "refused", refusal(self.p.t(request), self.p.policy.tz, self.standing(snap.value), exc)
        return "applied", None

    # ---- the operator decides -------------------------------------------------------------------------------
    def operator_page(self, request: Request, messages: list[tuple[str, str]] | None = None, status: int = 200,
                      drafts: dict[int, str] | None = None) -> Response:
        who = self.p.guard(request, "operator")
        if isinstance(who, Response):
            return who
        threshold = self.threshold
        try:
            snap = self.p.read(("membership", None, threshold), lambda conn: reads.membership_overview(conn, threshold))
        except WarehouseBusy:
            return self.p.busy(request, who)
        applications = self.p.registry.applications()
        latest = latest_applications(applications)
        rows = list(snap.value)
        listed = {p.contributor_id for p in rows}
        accounts = {a.contributor_id for a in self.p.store.accounts() if a.contributor_id}
        rows += [Progress(c, 0, threshold, 0) for c in sorted((accounts | set(latest)) - listed)]
        members_only = self.p.settings.share_requires_membership
        standings = [Standing(p, latest.get(p.contributor_id), members_only) for p in rows]
        words_now = {p.contributor_id: p.words for p in rows}
        decided_id = request.query_params.get("decided", "")
        decided = next((a for a in applications if str(a.id) == decided_id and a.decision != "pending"), None)
        if decided is not None and not messages:
            t = self.p.t(request)
            messages = [("ok", t(f"membership_{decided.decision}_ok", contributor=decided.contributor_id))]
        return self.p.render(request, "operator_membership.html", {
            "threshold": threshold, "members_only": members_only, "standings": standings, "words_now": words_now,
            "pending": [a for a in applications if a.decision == "pending"],
            "decided": [a for a in reversed(applications) if a.decision != "pending"],
            "messages": messages or [], "drafts": drafts or {}, "stale": self.p.stale_note(request, snap)}, who, status)

    async def decide(self, request: Request) -> Response:
        posted = await self.p.signed_form(request, "operator")
        if isinstance(posted, Response):
            return posted
        who, form = posted
        t = self.p.t(request)
        application_id = request.path_params["application_id"]
        decision, reason = str(form.get("decision", "")), str(form.get("reason", "")).strip()[:MAX_REASON]
        if decision not in DECISIONS:
            error = t("membership_choose_decision")
        else:
            try:
                await run_in_threadpool(self.p.registry.decide_membership, application_id, DECISIONS[decision],
                                        who.account.name, reason)
                return RedirectResponse(f"/operator/membership?decided={application_id}", status_code=303)
            except ConsentError as exc:
                error = t("membership_reason_required") if not reason else t("membership_not_decided", reason=str(exc))
        return await run_in_threadpool(self.operator_page, request, [("error", error)], 400, {application_id: reason})

    def routes(self) -> list[Route]:
        return [
            Route("/membership/apply", self.apply, methods=["POST"], name="membership_apply"),
            Route("/operator/membership", self.operator_page, methods=["GET"], name="operator_membership"),
            Route("/operator/membership/{application_id:int}", self.decide, methods=["POST"]),
        ]
