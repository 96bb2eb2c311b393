"""The 1T Club's API credit in the portal: the contributor's card on the dashboard (from their statement), their
ledger as CSV, and the operator's page and CSV of billable usage per partner and month.

A contributor's ledger is always the signed-in account's own: the contributor id never comes from the URL or a
form. Operators pick the month in the URL."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from onett_domain import api_credit as credit
from onett_domain.periods import exact_month, parse_month
from onett_portal.reads import WarehouseBusy
from onett_resources.api_usage import UsageFeed



def _csv(text: str, name: str) -> Response:
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return Response("\ufeff" + text, media_type="text/csv; charset=utf-8", headers={
        "content-disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"})


def credit_months(conn) -> list[date]:
    """Months with partner usage or credit entries, newest first."""
    return [m for (m,) in conn.execute(
        "SELECT DISTINCT m FROM (SELECT date_trunc('month', date)::DATE AS m FROM api_usage "
        "UNION SELECT period FROM api_credit_ledger) ORDER BY m DESC").fetchall()]


class CreditPages:
    def __init__(self, portal):
        self.p = portal  # the app's Portal: its guard, rendering and reads

    def ledger_csv(self, request: Request) -> Response:
        who = self.p.guard(request, "contributor")
        if isinstance(who, Response):
            return who
        contributor_id = who.account.contributor_id
        try:
            snap = self.p.read(("credit_ledger", contributor_id),
                               lambda conn: credit.ledger_csv(credit.stored_entries(conn, contributor_id)))
        except WarehouseBusy:
            return self.p.busy(request, who)
        return _csv(snap.value, f"onett-api-credit-{contributor_id}.csv")

    def _export(self, month: date):
        policy = self.p.policy
        return self.p.read(("credit_export", month), lambda conn: credit.billable_export(conn, month, policy))

    def operator_page(self, request: Request) -> Response:
        who = self.p.guard(request, "operator")
        if isinstance(who, Response):
            return who
        asked = request.query_params.get("month", "")
        if asked and not exact_month(asked):
            return self.p.not_found(request, who)
        try:
            months = self.p.read(("credit_months",), credit_months)
            month = parse_month(asked) if asked else (months.value[0] if months.value else None)
            snap = self._export(month) if month else None
        except WarehouseBusy:
            return self.p.busy(request, who)
        return self.p.render(request, "operator_credit.html", {
            "feed_errors": self.feed_errors(),
            "months": months.value, "month": month, "rows": snap.value if snap else [],
            "stale": self.p.stale_note(request, snap) if snap else None,
            "ratio": self.p.settings.credit_ratio, "expiry": self.p.settings.credit_expiry_months}, who)

    def feed_errors(self) -> list[str]:
        """What the usage feed holds that `api_usage` would refuse (file and line each), read now, so the operator
        sees it before a close fails on it."""
        rows, errors = UsageFeed(path=str(self.p.settings.usage_dir)).read()
        try:
            known = self.p.read(("credit_known",), credit.known_contributors).value
        except WarehouseBusy:
            return errors
        return errors + credit.unknown_contributor_errors(rows, known)

    def operator_csv(self, request: Request) -> Response:
        who = self.p.guard(request, "operator")
        if isinstance(who, Response):
            return who
        text = request.path_params["month"]
        if not exact_month(text):
            return self.p.not_found(request, who)
        month = parse_month(text)
        try:
            snap = self._export(month)
        except WarehouseBusy:
            return self.p.busy(request, who)
        return _csv(credit.export_csv(snap.value), f"onett-api-credit-billable-{text}.csv")

    def routes(self) -> list[Route]:
        return [
            Route("/credit.csv", self.ledger_csv, methods=["GET"], name="credit_csv"),
            Route("/operator/credit", self.operator_page, methods=["GET"], name="operator_credit"),
            Route("/operator/credit/{month}.csv", self.operator_csv, methods=["GET"]),
        ]
