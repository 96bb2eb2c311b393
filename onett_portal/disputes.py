"""Disputed statements in the portal: a contributor questions a closed month from its statement and follows the
thread; the operator answers and resolves, with no change or with an adjustment paid with the next month that
closes (onett_domain.disputes). The contributor always comes from the signed-in account, and a dispute that is not
theirs reads as missing, never as forbidden."""

from __future__ import annotations

from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from onett_domain.disputes import Dispute, DisputeError, parse_adjustment
from onett_domain.periods import exact_month
from onett_portal.reads import WarehouseBusy, closed_months
from onett_resources.disputes import DisputeRegister

RESOLUTIONS = ("no_change", "adjustment")


class DisputePages:
    def __init__(self, portal):
        self.p = portal  # the app's Portal: its guard, rendering and reads
        self.register = DisputeRegister(path=str(portal.settings.payments))

    def for_month(self, contributor_id: str, month: date) -> list[Dispute]:
        return [d for d in self.register.disputes(contributor_id) if d.period == month]

    def _closed(self) -> set[date]:
        return set(self.p.read(("closed_months",), closed_months).value)

    # ---- the contributor ------------------------------------------------------------------------------------
    def page(self, request: Request, messages: list[tuple[str, str]] | None = None, status: int = 200) -> Response:
        who = self.p.guard(request, "contributor")
        if isinstance(who, Response):
            return who
        disputes = self.register.disputes(who.account.contributor_id)
        if not messages and request.query_params.get("sent"):
            messages = [("ok", self.p.t(request)("dispute_sent"))]
        return self.p.render(request, "disputes.html", {"disputes": disputes, "messages": messages or []},
                             who, status)

    async def open(self, request: Request) -> Response:
        posted = await self.p.signed_form(request, "contributor")
        if isinstance(posted, Response):
            return posted
        who, form = posted
        month = exact_month(request.path_params["month"])
        if month is None:
            return self.p.not_found(request, who)
        try:
            closed = await run_in_threadpool(self._closed)
        except WarehouseBusy:
            return await run_in_threadpool(self.p.busy, request, who)
        try:
            dispute = await run_in_threadpool(self.register.open_dispute, who.account.contributor_id, month,
                                              who.account.name, str(form.get("message", "")), closed)
        except DisputeError as exc:
            return await run_in_threadpool(self.page, request, [("error", self._refusal(request, exc))], 400)
        return RedirectResponse(f"/disputes?sent=1#dispute-{dispute.id}", status_code=303)

    async def reply(self, request: Request) -> Response:
        posted = await self.p.signed_form(request, "contributor")
        if isinstance(posted, Response):
            return posted
        who, form = posted
        try:
            await run_in_threadpool(self.register.write, request.path_params["dispute_id"], who.account.name,
                                    "contributor", str(form.get("message", "")), who.account.contributor_id)
        except DisputeError as exc:
            if "there is no dispute" in str(exc):
                return self.p.not_found(request, who)
            return await run_in_threadpool(self.page, request, [("error", self._refusal(request, exc))], 400)
        return RedirectResponse(f"/disputes?sent=1#dispute-{request.path_params['dispute_id']}", status_code=303)

    def _refusal(self, request: Request, exc: DisputeError) -> str:
        t, text = self.p.t(request), str(exc)
        if "needs a message" in text:
            return t("dispute_needs_message")
        if "not closed yet" in text:
            return t("dispute_not_closed")
        if "already has an open dispute" in text:
            return t("dispute_already_open")
        return t("dispute_refused", reason=text)

    # ---- the operator ---------------------------------------------------------------------------------------
    def operator_page(self, request: Request, messages: list[tuple[str, str]] | None = None, status: int = 200,
                      drafts: dict | None = None) -> Response:
        who = self.p.guard(request, "operator")
        if isinstance(who, Response):
            return who
        disputes = self.register.disputes()
        done = request.query_params.get("done", "")
        if not messages and done in ("answered", "resolved"):
            messages = [("ok", self.p.t(request)(f"dispute_{done}_ok"))]
        return self.p.render(request, "operator_disputes.html", {
            "open": [d for d in disputes if d.open], "resolved": [d for d in disputes if not d.open],
            "messages": messages or [], "drafts": drafts or {}}, who, status)

    async def answer(self, request: Request) -> Response:
        posted = await self.p.signed_form(request, "operator")
        if isinstance(posted, Response):
            return posted
        who, form = posted
        dispute_id = request.path_params["dispute_id"]
        try:
            await run_in_threadpool(self.register.write, dispute_id, who.account.name, "operator",
                                    str(form.get("message", "")))
        except DisputeError as exc:
            return await run_in_threadpool(self.operator_page, request, [("error", self._refusal(request, exc))], 400)
        return RedirectResponse(f"/operator/disputes?done=answered#dispute-{dispute_id}", status_code=303)

    async def resolve(self, request: Request) -> Response:
        posted = await self.p.signed_form(request, "operator")
        if isinstance(posted, Response):
            return posted
        who, form = posted
        t, currency = self.p.t(request), self.p.policy.currency
        dispute_id = request.path_params["dispute_id"]
        resolution, message = str(form.get("resolution", "")), str(form.get("message", ""))
        amount_text = str(form.get("amount", "")).strip()
        drafts = {dispute_id: {"message": message, "amount": amount_text}}
        try:
            if resolution not in RESOLUTIONS:
                raise DisputeError(t("dispute_choose_resolution"))
            amount = parse_adjustment(amount_text, currency) if resolution == "adjustment" else None
            await run_in_threadpool(self.register.resolve, dispute_id, who.account.name, message, amount,
                                    currency if amount is not None else None)
        except DisputeError as exc:
            return await run_in_threadpool(self.operator_page, request, [("error", self._refusal(request, exc))],
                                           400, drafts)
        return RedirectResponse(f"/operator/disputes?done=resolved#dispute-{dispute_id}", status_code=303)

    def routes(self) -> list[Route]:
        return [
            Route("/disputes", self.page, methods=["GET"], name="disputes"),
            Route("/statements/{month}/dispute", self.open, methods=["POST"]),
            Route("/disputes/{dispute_id:int}/reply", self.reply, methods=["POST"]),
            Route("/operator/disputes", self.operator_page, methods=["GET"], name="operator_disputes"),
            Route("/operator/disputes/{dispute_id:int}/answer", self.answer, methods=["POST"]),
            Route("/operator/disputes/{dispute_id:int}/resolve", self.resolve, methods=["POST"]),
        ]
