"""Payments in the portal: a contributor's bank details and payments, and the operator's payees, payment runs,
bank files, bank statements and audit trail.

The register (onett_resources.payments) is the record and refuses what it must: an open month, the preparer
approving, an export before approval, a statement with a bad line. These pages take the contributor from the
signed-in account (never from a form), show bank details masked, and say each refusal in the page's language,
with the register's own words where they name what is wrong (a statement's lines)."""

from __future__ import annotations

from urllib.parse import quote

import duckdb
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from onett_domain.money import to_major
from onett_domain.payments import PayeeError, StatementError
from onett_domain.periods import exact_month
from onett_portal import reads
from onett_portal.reads import WarehouseBusy
from onett_resources.payments import PaymentError, PaymentRegister, owed_from_warehouse
from onett_resources.warehouse import Warehouse

STATEMENT_MAX_BYTES = 16 << 20
FIELDS = ("bank", "holder", "account", "bank_code")
PAYING = ("pending", "sent", "paid", "failed")


class PaymentPages:
    def __init__(self, portal):
        self.p = portal  # the app's Portal: guard, rendering, reads
        self.register = PaymentRegister.from_settings(portal.settings)
        # the dashboard and the operator's months table show payments without the app passing them in
        portal.env.globals["payments_of"] = self.register.payments_of
        portal.env.globals["payment_runs_by_month"] = self.runs_by_month
        portal.env.filters["major"] = lambda minor: to_major(minor, self.register.digits)  # exact, never a float

    def runs_by_month(self) -> dict[str, object]:
        """YYYY-MM -> the month's latest run that is not cancelled."""
        found = {}
        for run in self.register.runs():
            if run.state != "cancelled":
                found[f"{run.period:%Y-%m}"] = run
        return found

    def settled_months(self) -> dict[str, tuple]:
        """YYYY-MM -> (approved by, settled at) for months whose payment run is settled: the month is paid."""
        return {f"{r.period:%Y-%m}": (r.approved_by, r.settled_at) for r in self.register.runs()
                if r.state == "settled" and r.settled_at is not None}

    # ---- the contributor's bank details ---------------------------------------------------------------------
    def payee_page(self, request: Request, messages: list[tuple[str, str]] | None = None, status: int = 200,
                   draft: dict | None = None) -> Response:
        who = self.p.guard(request, "contributor")
        if isinstance(who, Response):
            return who
        contributor_id = who.account.contributor_id
        payee = self.register.payee(contributor_id)
        details = self.register.details(contributor_id) if payee else None
        if not messages and request.query_params.get("saved"):
            messages = [("ok", self.p.t(request)("payee_saved"))]
        return self.p.render(request, "payee.html", {
            "payee": payee, "details": details, "items": self.register.payments_of(contributor_id),
            "messages": messages or [], "draft": draft or {}, "minimum": self.register.minimum_payout}, who, status)

    async def payee_save(self, request: Request) -> Response:
        posted = await self.p.signed_form(request, "contributor")
        if isinstance(posted, Response):
            return posted
        who, form = posted
        values = {f: str(form.get(f, ""))[:200] for f in FIELDS}
        try:
            await run_in_threadpool(self.register.enter_details, who.account.contributor_id, values["bank"],
                                    values["holder"], values["account"], values["bank_code"], who.account.name)
        except (PayeeError, PaymentError) as exc:
            t = self.p.t(request)
            draft = {k: v for k, v in values.items() if k != "account"}  # the number is never echoed back
            return await run_in_threadpool(self.payee_page, request, [("error", t("payee_refused", reason=str(exc)))],
                                           400, draft)
        return RedirectResponse("/payee?saved=1", status_code=303)

    # ---- the operator's payments page -----------------------------------------------------------------------
    def operator_page(self, request: Request, messages: list[tuple[str, str]] | None = None,
                      status: int = 200) -> Response:
        who = self.p.guard(request, "operator")
        if isinstance(who, Response):
            return who
        try:
            snap = self.p.read(("closed_months",), reads.closed_months)
        except WarehouseBusy:
            return self.p.busy(request, who)
        runs = list(reversed(self.register.runs()))
        active = {f"{r.period:%Y-%m}" for r in runs if r.state in ("prepared", "approved", "exported")}
        totals = {r.id: sum(i.amount for i in self.register.items(r.id) if i.status in PAYING) for r in runs}
        payees = self.register.payees()
        details = {p.contributor_id: self.register.details(p.contributor_id) for p in payees if not p.confirmed}
        t = self.p.t(request)
        done = request.query_params.get("done", "")
        if done and not messages:
            messages = [("ok", t("payments_done_" + done, run=request.query_params.get("run", ""),
                                 contributor=request.query_params.get("contributor", "")))] \
                if done in ("prepared", "confirmed", "imported", "again", "cancelled", "approved") else []
        return self.p.render(request, "operator_payments.html", {
            "runs": runs, "totals": totals, "money": self.money,
            "months": [m for m in reversed(snap.value) if f"{m:%Y-%m}" not in active],
            "selected": request.query_params.get("month", ""), "payees": payees, "unconfirmed": details,
            "statements": self.register.statements()[:20], "messages": messages or [],
            "stale": self.p.stale_note(request, snap)}, who, status)

    def money(self, minor: int) -> str:
        return self.register.money(minor)

    def run_page(self, request: Request, messages: list[tuple[str, str]] | None = None,
                 status: int = 200) -> Response:
        who = self.p.guard(request, "operator")
        if isinstance(who, Response):
            return who
        try:
            run = self.register.run(request.path_params["run_id"])
        except PaymentError:
            return self.p.not_found(request, who)
        items = self.register.items(run.id)
        masked = {p.contributor_id: p.masked for p in self.register.payees()}
        paying = [i for i in items if i.status in PAYING]
        return self.p.render(request, "payment_run.html", {
            "run": run, "items": items, "masked": masked, "money": self.money, "messages": messages or [],
            "total": sum(i.amount for i in paying), "count": len(paying),
            "audit": self.register.audit(run.id)}, who, status)

    async def prepare(self, request: Request) -> Response:
        posted = await self.p.signed_form(request, "operator")
        if isinstance(posted, Response):
            return posted
        who, form = posted
        t = self.p.t(request)
        month = exact_month(str(form.get("month", "")))
        if month is None:
            return await run_in_threadpool(self.operator_page, request, [("error", t("payments_choose_month"))], 400)
        warehouse = Warehouse(database=str(self.p.settings.warehouse))
        try:
            owed = await run_in_threadpool(owed_from_warehouse, warehouse, month, self.register.currency)
            run = await run_in_threadpool(self.register.prepare, owed, who.account.name)
        except PaymentError as exc:
            message = t("payments_month_open", month=t.month(month)) if "is not closed" in str(exc) else \
                t("payments_refused", reason=str(exc))
            return await run_in_threadpool(self.operator_page, request, [("error", message)], 400)
        except duckdb.IOException:  # a run holds the warehouse for longer than a reader waits: change nothing
            return await run_in_threadpool(self.operator_page, request, [("error", t("busy_text"))], 503)
        return RedirectResponse(f"/operator/payments/{run.id}?done=prepared", status_code=303)

    async def act(self, request: Request) -> Response:
        """Approve or cancel a run; the register refuses the operator who prepared it (two-person rule)."""
        posted = await self.p.signed_form(request, "operator")
        if isinstance(posted, Response):
            return posted
        who, form = posted
        t = self.p.t(request)
        run_id, action = request.path_params["run_id"], request.path_params["action"]
        try:
            run = self.register.run(run_id)
        except PaymentError:
            return self.p.not_found(request, who)
        try:
            if action == "approve":
                await run_in_threadpool(self.register.approve, run_id, who.account.name)
            else:
                await run_in_threadpool(self.register.cancel, run_id, who.account.name)
        except PaymentError as exc:
            if action == "approve" and run.prepared_by.casefold() == who.account.name.casefold():
                message = t("payments_two_person", who=run.prepared_by)
            else:
                message = t("payments_refused", reason=str(exc))
            return await run_in_threadpool(self.run_page, request, [("error", message)], 400)
        done = "approved" if action == "approve" else "cancelled"
        return await run_in_threadpool(self.run_page, request, [("ok", t("payments_done_" + done, run=run_id))])

    async def export(self, request: Request) -> Response:
        posted = await self.p.signed_form(request, "operator")
        if isinstance(posted, Response):
            return posted
        who, form = posted
        run_id, fmt = request.path_params["run_id"], str(form.get("format", ""))
        try:
            run = self.register.run(run_id)
            data = await run_in_threadpool(self.register.export, run_id, fmt, who.account.name)
        except PaymentError as exc:
            t = self.p.t(request)
            if "there is no payment run" in str(exc):
                return self.p.not_found(request, who)
            return await run_in_threadpool(self.run_page, request, [("error", t("payments_refused", reason=str(exc)))],
                                           400)
        name = f"onett-payments-{run.period:%Y-%m}-run{run.id}." + ("xml" if fmt == "pain001" else "csv")
        media = "application/xml" if fmt == "pain001" else "text/csv; charset=utf-8"
        return Response(data, media_type=media, headers={"content-disposition": f'attachment; filename="{name}"'})

    async def confirm(self, request: Request) -> Response:
        posted = await self.p.signed_form(request, "operator")
        if isinstance(posted, Response):
            return posted
        who, _ = posted
        contributor_id = request.path_params["contributor"]
        try:
            await run_in_threadpool(self.register.confirm, contributor_id, who.account.name)
        except PaymentError as exc:
            t = self.p.t(request)
            return await run_in_threadpool(self.operator_page, request,
                                           [("error", t("payments_refused", reason=str(exc)))], 400)
        return RedirectResponse(f"/operator/payments?done=confirmed&contributor={quote(contributor_id)}",
                                status_code=303)

    async def statement(self, request: Request) -> Response:
        posted = await self.p.signed_form(request, "operator")
        if isinstance(posted, Response):
            return posted
        who, form = posted
        t = self.p.t(request)
        upload = form.get("statement")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return await run_in_threadpool(self.operator_page, request, [("error", t("payments_choose_file"))], 400)
        data = await upload.read(STATEMENT_MAX_BYTES + 1)
        if len(data) > STATEMENT_MAX_BYTES:
            return await run_in_threadpool(self.operator_page, request, [("error", t("payments_file_too_large"))],
                                           413)
        try:
            done = await run_in_threadpool(self.register.import_statement, upload.filename, data, who.account.name)
        except StatementError as exc:
            messages = [("error", t("payments_statement_refused", name=upload.filename, n=len(exc.errors)))]
            messages += [("error", error) for error in exc.errors]
            return await run_in_threadpool(self.operator_page, request, messages, 400)
        if done.again:
            return RedirectResponse("/operator/payments?done=again", status_code=303)
        messages = [("ok", t("payments_statement_applied", name=done.name, n=done.applied))]
        messages += [("ok", t("payments_run_settled", run=r)) for r in done.settled_runs]
        return await run_in_threadpool(self.operator_page, request, messages)

    def audit_page(self, request: Request) -> Response:
        who = self.p.guard(request, "operator")
        if isinstance(who, Response):
            return who
        return self.p.render(request, "payment_audit.html", {"audit": self.register.audit(limit=2000)}, who)

    def routes(self) -> list[Route]:
        return [
            Route("/payee", self.payee_page, methods=["GET"], name="payee"),
            Route("/payee", self.payee_save, methods=["POST"]),
            Route("/operator/payments", self.operator_page, methods=["GET"], name="operator_payments"),
            Route("/operator/payments/prepare", self.prepare, methods=["POST"]),
            Route("/operator/payments/statements", self.statement, methods=["POST"]),
            Route("/operator/payments/audit", self.audit_page, methods=["GET"]),
            Route("/operator/payments/{run_id:int}", self.run_page, methods=["GET"]),
            Route("/operator/payments/{run_id:int}/{action:str}", self.act_or_export, methods=["POST"]),
            Route("/operator/payees/{contributor}/confirm", self.confirm, methods=["POST"]),
        ]

    async def act_or_export(self, request: Request) -> Response:
        action = request.path_params["action"]
        if action == "export":
            return await self.export(request)
        if action in ("approve", "cancel"):
            return await self.act(request)
        who = await run_in_threadpool(self.p.who, request)
        return await run_in_threadpool(self.p.not_found, request, who)

