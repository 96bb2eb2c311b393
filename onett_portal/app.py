"""The portal's routes. Every page and API call finds the signed-in account from the session cookie alone;
a contributor's id never comes from the URL or a form, and any address that is not theirs answers with the
same 404 as one that does not exist. Operators (the consumer's business people) see every contributor."""

from __future__ import annotations

import csv
import io
import re
import secrets
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from onett_domain.periods import exact_month, month_bounds
from onett_domain.terms import USAGES
from onett_portal import charts, reads
from onett_portal.api_credit import CreditPages
from onett_portal.auth import Sessions, SignedIn, SignIn, TooManyAttempts, same_token
from onett_portal.config import PortalSettings, load_portal_settings
from onett_portal.consent import ConsentPages, describe_terms, terms_sidecar
from onett_portal.i18n import STAGES as STAGE_LABELS
from onett_portal.disputes import DisputePages
from onett_portal.i18n import Translator, pick_language
from onett_portal.membership import MembershipPages
from onett_portal.payments import PaymentPages
from onett_portal.reads import WarehouseBusy, WarehouseReader
from onett_portal.recitation import recitation_routes
from onett_portal.releases import ReleasePages
from onett_portal.store import PortalStore
from onett_portal.uploads import (
    RunWatcher, UploadError, file_states, landing_allowed, landing_suffixes, receive, revenue_acceptor,
    revenue_allowed,
)
from onett_resources import ConsentRegistry, LandingZone, ReleaseStore, UploadArchive, Warehouse
from onett_resources.durable import keep_private
from onett_resources.revenue import HEADER as REVENUE_HEADER
from onett_resources.settings import Settings, load_settings

HERE = Path(__file__).parent
LOGIN_COOKIE = "onett_login"
DEVICE_COOKIE = "onett_device"  # a browser that signed in before (onett_portal.auth)
LOGIN_FIELD_BYTES = 4096
LOGIN_BODY_BYTES = 16 << 10
REVENUE_MAX_BYTES = 64 << 20
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
     b"font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class SizeLimits:
    """Refuses, before reading a byte of it, a body larger than a page takes from someone not signed in yet (the
    sign-in form): nobody can make the portal spool or parse megabytes without an account."""

    def __init__(self, app, limits: dict[str, int]):
        self.app, self.limits = app, limits

    async def __call__(self, scope, receive_, send):
        limit = self.limits.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if limit is not None:
            length = dict(scope["headers"]).get(b"content-length", b"")
            if not length.isdigit() or int(length) > limit:
                status = 411 if not length else 413
                return await PlainTextResponse(f"{status}: at most {limit} bytes, with a Content-Length",
                                               status_code=status)(scope, receive_, send)
        return await self.app(scope, receive_, send)


class SecurityHeaders:
    """Adds the headers above to every response; pages of signed-in users are never cached."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive_, send):
        if scope["type"] != "http":
            return await self.app(scope, receive_, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in names]
                if b"cache-control" not in names and not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive_, send_with_headers)


def _csv_safe(value) -> str:
    """Spreadsheet-safe text: a cell starting with = + - @ is not a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not re.match(r"^-?\d", text) else text


class Portal:
    def __init__(self, settings: Settings, portal: PortalSettings):
        self.settings, self.portal = settings, portal
        self.policy = settings.policy
        self.store = PortalStore(portal.database)
        self.sessions = Sessions(self.store, portal.session_hours)
        self.sign_in = SignIn(self.store)
        self.reader = WarehouseReader(settings.warehouse)
        self.runs = RunWatcher()
        self.landing = LandingZone(path=str(settings.landing_dir))
        self.registry = ConsentRegistry(path=str(settings.consent))
        self.archive = UploadArchive(path=str(settings.storage_dir / "uploads"), key_file=str(settings.key_file))
        self.warehouse = Warehouse(database=str(settings.warehouse))  # read only: erasure requests check versions
        self.release_store = ReleaseStore(base_dir=str(settings.release_dir))
        self.consent = ConsentPages(self)
        self.releases = ReleasePages(self)
        self.membership = MembershipPages(self)
        self.disputes = DisputePages(self)
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
        self.payments = PaymentPages(self)  # after env: it adds the payments its templates show

    # ---- helpers ---------------------------------------------------------------------------------------
    def paid_months(self) -> dict[str, tuple]:
        """YYYY-MM -> (who, when): months whose payment run is settled, and months marked paid by hand."""
        return {**self.store.paid_months(), **self.payments.settled_months()}

    def today(self) -> date:
        return datetime.now(self.policy.tz).date()

    def lang(self, request: Request) -> str:
        return pick_language(request.query_params.get("lang"), request.cookies.get("lang"),
                             request.headers.get("accept-language"))

    def t(self, request: Request) -> Translator:
        return Translator(self.lang(request), self.policy.currency, self.policy.digits)

    def who(self, request: Request) -> SignedIn | None:
        return self.sessions.lookup(request.cookies.get(Sessions.COOKIE))

    def dagster(self, asset: str, partition: str | None = None, view: str = "partitions") -> str:
        """A page of the Dagster UI: an asset's partition (its materialization and metadata), or its
        upstream lineage (view="lineage"), in the URL shapes of the UI's asset pages."""
        query = f"?view={view}" + (f"&partition={quote(partition, safe='')}" if partition else "")
        if view == "lineage":
            query += "&lineageScope=upstream&lineageDepth=8"
        return f"{self.portal.dagster_url}/assets/{asset}{query}"

    def render(self, request: Request, template: str, context: dict, who: SignedIn | None = None,
               status: int = 200) -> HTMLResponse:
        t = self.t(request)
        html = self.env.get_template(template).render(
            request=request, t=t, lang=t.lang, who=who, csrf=who.csrf if who else "", settings=self.settings,
            policy=self.policy, portal=self.portal, path=request.url.path, describe_terms=describe_terms, **context)
        response = HTMLResponse(html, status_code=status)
        if request.query_params.get("lang") in ("ko", "en"):
            response.set_cookie("lang", t.lang, max_age=365 * 86400, samesite="strict", httponly=True,
                                secure=self.portal.secure_cookies)
        return response

    def not_found(self, request: Request, who: SignedIn | None = None) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "not found"}, status_code=404)
        return self.render(request, "not_found.html", {}, who, status=404)

    def busy(self, request: Request, who: SignedIn | None) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "the numbers are being updated; try again in a few seconds"},
                                status_code=503, headers={"retry-after": "5"})
        return self.render(request, "busy.html", {"refresh": 5}, who)

    def guard(self, request: Request, role: str | None = None) -> SignedIn | Response:
        """The signed-in account with the right role, or the response to give instead."""
        who = self.who(request)
        if who is None:
            if request.url.path.startswith("/api/"):
                return JSONResponse({"error": "sign in first"}, status_code=401)
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        if role is not None and who.account.role != role:
            return self.not_found(request, who)
        return who

    async def signed_form(self, request: Request, role: str) -> tuple[SignedIn, FormData] | Response:
        """The signed-in account of `role` and the form it posted, or the response to give instead (a form without
        the session's CSRF token gets the same 404 as a page that is not yours)."""
        who = await run_in_threadpool(self.guard, request, role)
        if isinstance(who, Response):
            return who
        form = await request.form()
        if not same_token(form.get("csrf"), who.csrf):
            return self.not_found(request, who)
        return who, form

    def read(self, key: tuple, fn, day: date | None = None):
        return self.reader.read(key, fn, day)

    def stale_note(self, request: Request, snapshot: reads.Snapshot) -> str | None:
        if not snapshot.stale:
            return None
        read_at = snapshot.read_at.astimezone(self.policy.tz)
        # Numbers from an earlier day (a writer holding the warehouse over midnight) say which day they are from.
        shown = read_at.strftime("%H:%M" if read_at.date() == self.today() else "%Y-%m-%d %H:%M")
        return self.t(request)("stale_note", time=shown)

    # ---- sign in / out ---------------------------------------------------------------------------------
    def login_form(self, request: Request) -> Response:
        if self.who(request) is not None:
            return RedirectResponse("/", status_code=303)
        return self._login_page(request, None, 200)

    def _login_page(self, request: Request, error: str | None, status: int, nxt: str | None = None) -> Response:
        token = secrets.token_urlsafe(24)
        message = self.t(request)("signed_out") if request.query_params.get("out") else None
        nxt = request.query_params.get("next", "") if nxt is None else nxt
        response = self.render(request, "login.html", {"error": error, "login_token": token, "message": message,
                                                       "next": nxt}, None, status)
        response.set_cookie(LOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                            secure=self.portal.secure_cookies, path="/login")
        return response

    async def login_submit(self, request: Request) -> Response:
        # Nobody is signed in yet: the form is small, and a larger one is refused before it is read (SizeLimits).
        form = await request.form(max_files=0, max_fields=8, max_part_size=LOGIN_FIELD_BYTES)
        t = self.t(request)
        nxt = str(form.get("next", ""))
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not same_token(form.get("csrf"), expected):
            return self._login_page(request, t("form_expired"), 400, nxt)
        client = request.client.host if request.client else "unknown"
        try:
            account = await run_in_threadpool(self.sign_in.check, str(form.get("name", "")),
                                              str(form.get("password", "")), client,
                                              request.cookies.get(DEVICE_COOKIE))
        except TooManyAttempts as exc:
            wait = t("n_seconds", n=exc.seconds) if exc.seconds < 120 else t("n_minutes", n=exc.minutes)
            return self._login_page(request, t("too_many_attempts", wait=wait), 429, nxt)
        if account is None:
            return self._login_page(request, t("bad_credentials"), 401, nxt)
        token, _ = await run_in_threadpool(self.sessions.start, account)
        device, device_seconds = await run_in_threadpool(self.sign_in.remember_device, account)
        safe_next = nxt if nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt else "/"
        response = RedirectResponse(safe_next, status_code=303)
        secure = self.portal.secure_cookies or request.url.scheme == "https"
        response.set_cookie(Sessions.COOKIE, token, max_age=self.sessions.seconds, httponly=True, samesite="strict",
                            secure=secure, path="/")
        response.set_cookie(DEVICE_COOKIE, device, max_age=device_seconds, httponly=True, samesite="strict",
                            secure=secure, path="/login")
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    async def logout(self, request: Request) -> Response:
        who = await run_in_threadpool(self.who, request)
        if who is not None:
            form = await request.form()
            if not same_token(form.get("csrf"), who.csrf):
                return self.not_found(request, who)
            await run_in_threadpool(self.sessions.end, request.cookies.get(Sessions.COOKIE))
        response = RedirectResponse("/login?out=1", status_code=303)
        response.delete_cookie(Sessions.COOKIE, path="/")
        return response

    # ---- contributor pages -----------------------------------------------------------------------------
    def home(self, request: Request) -> Response:
        who = self.guard(request)
        if isinstance(who, Response):
            return who
        if who.account.is_operator:
            return RedirectResponse("/operator", status_code=303)
        return self._dashboard(request, who, who.account.contributor_id, operator_view=False)

    def _dashboard(self, request: Request, who: SignedIn, contributor_id: str, operator_view: bool,
                   messages: list[tuple[str, str]] | None = None, status: int = 200) -> Response:
        month = exact_month(request.query_params.get("month", ""))
        today = self.today()
        try:
            policy = self.registry.sharing(self.policy)  # members only, when the share requires membership
            snap = self.read(("dashboard", contributor_id, month),
                             lambda conn: reads.contributor_dashboard(conn, policy, contributor_id, today, month), today)
            rows = self._file_rows(contributor_id)[0] if operator_view else []
        except WarehouseBusy:
            return self.busy(request, who)
        t = self.t(request)
        data = snap.value
        st = data["statement"]
        labels = {name: t.stage(name) for name in STAGE_LABELS}
        explained = data["explained"]
        days_in_month = month_bounds(explained["month"])[1] - explained["month"]
        context = {
            "contributor_id": contributor_id,
            "operator_view": operator_view,
            "dagster": self.dagster if operator_view else None,  # contributors never see the Dagster UI
            "base": f"/operator/contributors/{quote(contributor_id, safe='')}" if operator_view else "",
            "st": st,
            "data": data,
            "explained": explained,
            "paid": self.paid_months(),
            "stale": self.stale_note(request, snap),
            "funnel_svg": charts.funnel_svg([(f["stage"], f["docs"], f["tokens"]) for f in st["funnel"]], labels,
                                            t("funnel_title"), t) if st else "",
            "daily_svg": charts.daily_svg(explained["daily"], explained["month"], days_in_month.days,
                                          t("revenue_title"), t),
            "basis": self._basis(t, st["expected_payout"]) if st else "",
            "timezone": self.settings.timezone,
            "agreement": self.consent.state(contributor_id),
            "membership": self.membership.standing(data["membership"]),
            "when": self.membership.when,
            "messages": messages or [],
            "rows": rows,
            "uploaded_by": self.store.uploads(contributor_id) if operator_view else {},
            "erase_action": f"/operator/contributors/{quote(contributor_id, safe='')}/files/erase",
        }
        return self.render(request, "dashboard.html", context, who, status)

    def own_view(self, request: Request, who: SignedIn, messages: list[tuple[str, str]], status: int) -> Response:
        """The contributor's own dashboard, with the outcome of what they just did there."""
        return self._dashboard(request, who, who.account.contributor_id, operator_view=False, messages=messages,
                               status=status)

    def contributor_view(self, request: Request, who: SignedIn, contributor_id: str,
                         messages: list[tuple[str, str]], status: int) -> Response:
        """The operator's page of one contributor, with the outcome of what was just done there."""
        return self._dashboard(request, who, contributor_id, operator_view=True, messages=messages, status=status)

    @staticmethod
    def _basis(t: Translator, exp: dict) -> str:
        days, total = exp["days_reported"], exp["days_in_month"]
        if days:
            return t("basis_observed", days=days, daily=t.money(exp["daily_average"]), left=total - days)
        if exp["basis"].startswith("no revenue"):
            return t("basis_none")
        return t("basis_lookback", daily=t.money(exp["daily_average"]))

    def uploads_page(self, request: Request, messages: list[tuple[str, str]] | None = None, status: int = 200) -> Response:
        who = self.guard(request, "contributor")
        if isinstance(who, Response):
            return who
        return self._uploads(request, who, messages or [], status, fragment=False)

    def uploads_fragment(self, request: Request) -> Response:
        who = self.guard(request, "contributor")
        if isinstance(who, Response):
            return who
        return self._uploads(request, who, [], 200, fragment=True)

    def _file_rows(self, contributor_id: str) -> tuple[list[dict], reads.Snapshot]:
        snap = self.read(("files", contributor_id), lambda conn: reads.contributor_files(conn, contributor_id))
        landing = self.landing.snapshot(contributor_id)
        active = self.runs.active_periods(contributor_id)
        rows = file_states(landing, snap.value, active, self.policy.tz, self.policy.first_period)
        return [{**r, "terms": r.get("terms") or ""} for r in rows], snap

    def _uploads(self, request: Request, who: SignedIn, messages, status: int, fragment: bool) -> Response:
        try:
            rows, snap = self._file_rows(who.account.contributor_id)
        except WarehouseBusy:
            if fragment:  # the page's script keeps the table it has and asks again
                return Response(status_code=503, headers={"retry-after": "5"})
            return self.busy(request, who)
        uploaded_by = self.store.uploads(who.account.contributor_id)
        agreement = self.consent.state(who.account.contributor_id)
        agreed = request.query_params.get("agreed")
        if agreement.accepted and agreed == agreement.accepted.version and not messages:
            messages = [("ok", self.t(request)("agreement_thanks", version=agreed))]
        context = {"rows": rows, "messages": messages, "stale": self.stale_note(request, snap),
                   "suffixes": ", ".join(landing_suffixes()), "uploaded_by": uploaded_by,
                   "pending": any(r["state"] in ("waiting", "processing") for r in rows),
                   "agreement": agreement, "usages": list(USAGES), "erase_action": "/files/erase",
                   "today": self.today().isoformat()}
        return self.render(request, "files_table.html" if fragment else "uploads.html", context, who, status)

    async def upload(self, request: Request) -> Response:
        who = await run_in_threadpool(self.guard, request, "contributor")
        if isinstance(who, Response):
            return who
        t = self.t(request)
        contributor_id = who.account.contributor_id
        folder = self.settings.landing_dir / contributor_id
        wants_json = "application/json" in request.headers.get("accept", "")
        suffixes = ", ".join(landing_suffixes())
        agreement = await run_in_threadpool(self.consent.state, contributor_id)
        if agreement.needs_acceptance:
            message = t("agreement_required", version=agreement.current.version)
            if wants_json:
                return JSONResponse({"ok": False, "message": message, "files": []}, status_code=403)
            return await run_in_threadpool(self.uploads_page, request, [("error", message)], 403)
        today = self.today()
        try:
            results = await receive(request, folder, csrf=who.csrf, max_bytes=self.portal.max_upload_bytes,
                                    allowed=landing_allowed,
                                    terms=lambda fields: terms_sidecar(fields, today, agreement.current is not None))
            error = None
        except UploadError as exc:
            results, error = getattr(exc, "results", []), exc
        for r in results:
            if r.saved_as and not r.error:
                await run_in_threadpool(self.store.record_upload, contributor_id, r.saved_as, r.original, r.bytes,
                                        r.sha256, who.account.name)
        files = [{"name": r.original, "saved_as": r.saved_as, "bytes": r.bytes, "error": r.error,
                  "message": t(r.error, **{"types": suffixes, **r.params}) if r.error else
                  (t("uploaded_as", name=r.original, saved=r.saved_as) if r.saved_as != r.original
                   else t("uploaded", name=r.original))} for r in results]
        status = 200
        if error is not None:
            status = error.status
            message = t(error.code, **{"types": suffixes, **error.params})
        elif not results:
            status, message = 400, t("no_files")
        elif any(r.error for r in results):
            status, message = 400, " ".join(f["message"] for f in files if f["error"])
        else:
            message = " ".join(f["message"] for f in files)
        if wants_json:
            return JSONResponse({"ok": status == 200, "message": message, "files": files}, status_code=status)
        kinds = [("ok" if not f["error"] else "error", f["message"]) for f in files]
        if error is not None or not results:
            kinds.append(("error", message))
        return await run_in_threadpool(self.uploads_page, request, kinds, status)

    def api_files(self, request: Request) -> Response:
        who = self.guard(request, "contributor")
        if isinstance(who, Response):
            return who
        try:
            rows, snap = self._file_rows(who.account.contributor_id)
        except WarehouseBusy:
            return self.busy(request, who)
        keep = ["file", "period", "bytes", "submitted_at", "state", "error", "notes", "accepted_tokens", "docs_read",
                "docs_skipped", "present"]
        return JSONResponse({"contributor_id": who.account.contributor_id, "stale": snap.stale,
                             "files": [{k: (str(r[k]) if isinstance(r[k], (date, datetime)) else r[k]) for k in keep}
                                       for r in rows]})

    def api_statement(self, request: Request) -> Response:
        who = self.guard(request, "contributor")
        if isinstance(who, Response):
            return who
        contributor_id, today = who.account.contributor_id, self.today()
        try:
            policy = self.registry.sharing(self.policy)
            snap = self.read(("dashboard", contributor_id, None),
                             lambda conn: reads.contributor_dashboard(conn, policy, contributor_id, today, None), today)
        except WarehouseBusy:
            return self.busy(request, who)
        st = snap.value["statement"] or {"contributor_id": contributor_id, "contribution_tokens": 0,
                                         "payout_history": [], "funnel": [], "removed": []}
        return JSONResponse({**st, "stale": snap.stale}, media_type="application/json")

    # ---- statements ------------------------------------------------------------------------------------
    def _statement_rows(self, contributor_id: str, month: date | None):
        if month is None:
            return self.read(("history", contributor_id), lambda conn: reads.contributor_history(conn, contributor_id))
        return self.read(("period", contributor_id, month),
                         lambda conn: reads.contributor_period_statement(conn, contributor_id, month))

    def statement_page(self, request: Request) -> Response:
        who = self.guard(request, "contributor")
        if isinstance(who, Response):
            return who
        return self._statement_page(request, who, who.account.contributor_id, request.path_params["month"])

    def statement_csv(self, request: Request) -> Response:
        who = self.guard(request, "contributor")
        if isinstance(who, Response):
            return who
        return self._statement_csv(request, who, who.account.contributor_id, request.path_params.get("month"))

    def _statement_page(self, request: Request, who: SignedIn, contributor_id: str, month_text: str) -> Response:
        month = exact_month(month_text)
        if month is None:
            return self.not_found(request, who)
        try:
            snap = self._statement_rows(contributor_id, month)
        except WarehouseBusy:
            return self.busy(request, who)
        if snap.value is None:
            return self.not_found(request, who)
        row = snap.value
        return self.render(request, "statement.html", {
            "contributor_id": contributor_id, "row": row, "month": month, "paid": self.paid_months(),
            "now": datetime.now(self.policy.tz), "stale": self.stale_note(request, snap),
            "csv_url": quote(request.url.path) + "/csv", "disputes": self.disputes.for_month(contributor_id, month),
            "dispute_action": None if who.account.is_operator else f"/statements/{month:%Y-%m}/dispute"}, who)

    def _statement_csv(self, request: Request, who: SignedIn, contributor_id: str, month_text: str | None) -> Response:
        month = exact_month(month_text) if month_text is not None else None
        if month_text is not None and month is None:
            return self.not_found(request, who)
        try:
            snap = self._statement_rows(contributor_id, month)
        except WarehouseBusy:
            return self.busy(request, who)
        rows = [snap.value] if month is not None else snap.value
        if month is not None and snap.value is None:
            return self.not_found(request, who)
        paid = self.paid_months()
        digits = self.policy.digits
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["period", "contributor_id", "tokens", "all_contributors_tokens", "ratio", "revenue", "alpha",
                         "pool", "amount", "adjustment_included", "currency", "state"])
        for r in rows:
            pool = r["pool"] or {}
            key = r["period"].strftime("%Y-%m")
            writer.writerow([key, _csv_safe(contributor_id), r["tokens"], pool.get("tokens", ""), f"{r['ratio']:.18f}",
                             format(Decimal(pool.get("revenue", 0)).normalize(), "f"),
                             format(Decimal(pool.get("alpha", 0)).normalize(), "f"),
                             f"{Decimal(pool.get('pool', 0)):.{digits}f}", f"{r['amount'] + r['adjustment']:.{digits}f}",
                             f"{r['adjustment']:.{digits}f}", r["currency"], "paid" if key in paid else "closed"])
        name = f"onett-statement-{contributor_id}" + (f"-{month:%Y-%m}" if month else "") + ".csv"
        ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", name)
        return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8", headers={
            "content-disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"})

    # ---- operator pages --------------------------------------------------------------------------------
    def operator_overview(self, request: Request, who: SignedIn):
        """All contributors' numbers (the operator's page and its API), or the busy page while the warehouse is locked."""
        today = self.today()
        try:
            policy = self.registry.sharing(self.policy)
            return self.read(("operator",), lambda conn: reads.operator_overview(conn, policy, today), today)
        except WarehouseBusy:
            return self.busy(request, who)

    def operator_home(self, request: Request) -> Response:
        who = self.guard(request, "operator")
        if isinstance(who, Response):
            return who
        snap = self.operator_overview(request, who)
        if isinstance(snap, Response):
            return snap
        paid = self.paid_months()
        marked = request.query_params.get("marked")  # said only of what is true: "open", or a month marked paid
        return self.render(request, "operator.html", {
            "data": snap.value, "paid": paid, "stale": self.stale_note(request, snap),
            "accounts": self.store.accounts(), "dagster": self.dagster,
            "message": marked if marked == "open" or marked in paid else None}, who)

    def api_operator(self, request: Request) -> Response:
        who = self.guard(request, "operator")
        if isinstance(who, Response):
            return who
        snap = self.operator_overview(request, who)
        if isinstance(snap, Response):
            return snap
        paid = self.paid_months()
        months = [{"period": m["period"].strftime("%Y-%m"), "revenue": str(m["revenue"]),
                   "state": ("paid" if m["period"].strftime("%Y-%m") in paid else "closed") if m["closed"] else "open",
                   "pool": str(m["closed"]["pool"]) if m["closed"] else None} for m in snap.value["months"]]
        return JSONResponse({"stale": snap.stale, "months": months, "contributors": [
            {**c, "ratio": str(c["ratio"]), "paid": str(c["paid"]), "expected": str(c["expected"]),
             "last_period": str(c["last_period"]) if c["last_period"] else None}
            for c in snap.value["contributors"]]})

    def known(self, contributor_id: str) -> bool:
        snap = self.read(("known",), reads.known_contributors)
        accounts = {a.contributor_id for a in self.store.accounts() if a.contributor_id}
        return contributor_id in set(snap.value) | accounts

    def operator_contributor(self, request: Request) -> Response:
        who = self.guard(request, "operator")
        if isinstance(who, Response):
            return who
        contributor_id = request.path_params["contributor"]
        try:
            if not self.known(contributor_id):
                return self.not_found(request, who)
        except WarehouseBusy:
            return self.busy(request, who)
        return self._dashboard(request, who, contributor_id, operator_view=True)

    def operator_statement_page(self, request: Request) -> Response:
        who = self.guard(request, "operator")
        if isinstance(who, Response):
            return who
        return self._statement_page(request, who, request.path_params["contributor"], request.path_params["month"])

    def operator_statement_csv(self, request: Request) -> Response:
        who = self.guard(request, "operator")
        if isinstance(who, Response):
            return who
        return self._statement_csv(request, who, request.path_params["contributor"], request.path_params.get("month"))

    def revenue_page(self, request: Request, messages: list[tuple[str, str]] | None = None, status: int = 200) -> Response:
        who = self.guard(request, "operator")
        if isinstance(who, Response):
            return who
        try:
            snap = self.read(("revenue_files",), reads.revenue_files)
        except WarehouseBusy:
            return self.busy(request, who)
        folder = self.settings.revenue_dir
        on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.csv")
                         if p.is_file() and not p.name.startswith(".")) if folder.is_dir() else []
        return self.render(request, "revenue.html", {
            "files": on_disk, "loaded": snap.value, "messages": messages or [], "stale": self.stale_note(request, snap),
            "header": ",".join(REVENUE_HEADER), "dagster": self.dagster}, who, status)

    async def revenue_upload(self, request: Request) -> Response:
        who = await run_in_threadpool(self.guard, request, "operator")
        if isinstance(who, Response):
            return who
        t = self.t(request)
        folder = self.settings.revenue_dir
        try:
            results = await receive(request, folder, csrf=who.csrf, max_bytes=min(self.portal.max_upload_bytes,
                                                                                  REVENUE_MAX_BYTES),
                                    allowed=revenue_allowed, accept=revenue_acceptor(folder))
            messages = [("error", t(r.error, **{"types": ".csv", **r.params})) if r.error
                        else ("ok", t("revenue_saved", name=r.saved_as)) for r in results]
            status = 400 if not results or any(r.error for r in results) else 200
            if not results:
                messages = [("error", t("no_files"))]
        except UploadError as exc:
            messages, status = [("error", t(exc.code, **{"types": ".csv", **exc.params}))], exc.status
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"ok": status == 200, "message": " ".join(m for _, m in messages)}, status_code=status)
        return await run_in_threadpool(self.revenue_page, request, messages, status)

    async def mark_paid(self, request: Request) -> Response:
        posted = await self.signed_form(request, "operator")
        if isinstance(posted, Response):
            return posted
        who, form = posted
        month = exact_month(request.path_params["month"])
        if month is None:
            return self.not_found(request, who)

        def closed(conn) -> bool:
            return reads.period_summary(conn, month) is not None

        try:
            snap = await run_in_threadpool(self.read, ("closed", month), closed)
        except WarehouseBusy:
            return self.busy(request, who)
        if not snap.value:
            return RedirectResponse("/operator?marked=open", status_code=303)
        await run_in_threadpool(self.store.mark_paid, month.strftime("%Y-%m"), who.account.name)
        return RedirectResponse(f"/operator?marked={month:%Y-%m}", status_code=303)

    def healthz(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "time": time.time()})

    def http_500(self, request: Request, exc: Exception) -> Response:
        """An unexpected error: a plain answer with the usual security headers (this handler runs outside the
        middleware that adds them), never a traceback; the server log keeps the exception."""
        headers = {k.decode(): v.decode() for k, v in SECURITY_HEADERS} | {"cache-control": "no-store"}
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "internal error"}, status_code=500, headers=headers)
        return PlainTextResponse("오류가 발생했습니다. 잠시 뒤 다시 시도하세요. / Something went wrong; please try again.",
                                 status_code=500, headers=headers)

    async def http_404(self, request: Request, exc) -> Response:
        """Unknown addresses and wrong methods: the same 404 page as everything that is not yours."""
        who = await run_in_threadpool(self.who, request)
        return await run_in_threadpool(self.not_found, request, who)

    # ---- wiring ----------------------------------------------------------------------------------------
    def routes(self) -> list:
        return [
            Route("/", self.home, name="home"),
            Route("/login", self.login_form, methods=["GET"], name="login"),
            Route("/login", self.login_submit, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"], name="logout"),
            Route("/uploads", self.uploads_page, methods=["GET"], name="uploads"),
            Route("/uploads/files", self.uploads_fragment, methods=["GET"]),
            Route("/upload", self.upload, methods=["POST"], name="upload"),
            Route("/statements.csv", self.statement_csv, name="statements_csv"),
            Route("/statements/{month}", self.statement_page, name="statement"),
            Route("/statements/{month}/csv", self.statement_csv, name="statement_csv"),
            Route("/api/files", self.api_files),
            Route("/api/statement", self.api_statement),
            Route("/api/operator", self.api_operator),
            Route("/operator", self.operator_home, name="operator"),
            Route("/operator/contributors/{contributor}", self.operator_contributor),
            Route("/operator/contributors/{contributor}/statements.csv", self.operator_statement_csv),
            Route("/operator/contributors/{contributor}/statements/{month}", self.operator_statement_page),
            Route("/operator/contributors/{contributor}/statements/{month}/csv", self.operator_statement_csv),
            Route("/operator/revenue", self.revenue_page, methods=["GET"], name="revenue"),
            Route("/operator/revenue", self.revenue_upload, methods=["POST"]),
            Route("/operator/months/{month}/paid", self.mark_paid, methods=["POST"]),
            *self.consent.routes(),
            *self.releases.routes(),
            *self.membership.routes(),
            *self.payments.routes(),
            *CreditPages(self).routes(),
            *self.disputes.routes(),
            *recitation_routes(),
            Route("/healthz", self.healthz),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]


def create_app(settings: Settings | None = None, portal: PortalSettings | None = None) -> Starlette:
    keep_private()
    p = Portal(settings or load_settings(), portal or load_portal_settings())
    app = Starlette(routes=p.routes(), exception_handlers={404: p.http_404, 405: p.http_404, Exception: p.http_500})
    app.state.portal = p
    app.add_middleware(SizeLimits, limits={"/login": LOGIN_BODY_BYTES})
    app.add_middleware(SecurityHeaders)  # added last, so outermost: the size refusals carry the headers too
    return app
