"""Consent in the portal: the contributor agreement (a contributor accepts it, the operator publishes it), the terms
chosen with each upload, and erasure requests.

The register itself (onett_resources.consent) is the record; these pages only add who did it, from where, and the
checks a browser form needs. A contributor's id always comes from the signed-in account, never from a form."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

import duckdb
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from onett_domain.terms import DEFAULT_USAGE, USAGES, Acceptance, Agreement, TermsError, parse_sidecar
from onett_portal.auth import SignedIn
from onett_portal.reads import WarehouseBusy
from onett_portal.uploads import UploadError
from onett_resources.consent import ConsentError, ConsentRegistry
from onett_resources.erasure_requests import request_erasure

TERMS_FIELDS = ("usage", "evaluation_allowed", "expires", "rights_attested")
CHECKED = ("1", "on", "true", "yes")
MAX_REASON = 500


@dataclass(frozen=True)
class AgreementState:
    current: Agreement | None  # None: no agreement published, uploads go on as they always did
    text: str
    accepted: Acceptance | None  # the contributor's acceptance of the current version
    latest: Acceptance | None  # their latest acceptance of any version: the defaults of the upload form

    @property
    def needs_acceptance(self) -> bool:
        return self.current is not None and self.accepted is None

    @property
    def usage(self) -> str:
        return self.latest.usage if self.latest else DEFAULT_USAGE

    @property
    def evaluation_allowed(self) -> bool:
        return self.latest.evaluation_allowed if self.latest else False


def agreement_state(registry: ConsentRegistry, contributor_id: str | None) -> AgreementState:
    current = registry.current_agreement()
    acceptances = registry.acceptances(contributor_id) if contributor_id else []
    latest = acceptances[-1] if acceptances else None
    if current is None:
        return AgreementState(None, "", None, latest)
    agreement, text = current
    accepted = next((a for a in acceptances if a.version == agreement.version), None)
    return AgreementState(agreement, text, accepted, latest)


def terms_sidecar(fields: dict[str, str], today: date, required: bool) -> bytes | None:
    """The terms sidecar an upload form asks for, checked with the pipeline's own parser before anything is saved.
    None when the form carries no terms and none are required (no agreement published: clients that predate terms
    keep working)."""
    if not required and not any(k in fields for k in TERMS_FIELDS):
        return None
    if fields.get("rights_attested", "").lower() not in CHECKED:
        raise UploadError("rights_required")
    data = {"usage": fields.get("usage", DEFAULT_USAGE).strip(),
            "evaluation_allowed": fields.get("evaluation_allowed", "").lower() in CHECKED,
            "expires": fields.get("expires", "").strip() or None, "rights_attested": True}
    text = json.dumps(data, ensure_ascii=False) + "\n"
    try:
        chosen = parse_sidecar(text, "terms")
    except TermsError as exc:
        raise UploadError("terms_invalid", reason=str(exc).removeprefix("terms: ")) from None
    if chosen.get("expires") and chosen["expires"] < today:
        raise UploadError("expires_past", date=data["expires"])
    return text.encode()


def describe_terms(t, terms_json: str) -> str:
    """The terms an upload was read under, in the page's language ('' when it has none recorded)."""
    try:
        data = json.loads(terms_json) if terms_json else None
    except json.JSONDecodeError:
        return ""
    if not isinstance(data, dict):
        return ""
    parts = [t.usage(data.get("usage", DEFAULT_USAGE)),
             f"{t('evaluation')} {t('yes') if data.get('evaluation_allowed') else t('no')}"]
    if data.get("expires"):
        parts.append(f"~ {data['expires']}")
    return t("terms_of_file", terms=", ".join(parts))


class ConsentPages:
    """The routes of the agreement, the erasure requests and the operator's agreement page."""

    def __init__(self, portal):
        self.p = portal  # the app's Portal: its guard, rendering and resources

    def state(self, contributor_id: str | None) -> AgreementState:
        return agreement_state(self.p.registry, contributor_id)

    # ---- the contributor accepts ------------------------------------------------------------------------
    def agreement_page(self, request: Request) -> Response:
        who = self.p.guard(request, "contributor")
        if isinstance(who, Response):
            return who
        return self._agreement(request, who, None, 200)

    def _agreement(self, request: Request, who: SignedIn, error: str | None, status: int,
                   form: dict | None = None) -> Response:
        state = self.state(who.account.contributor_id)
        if state.current is None:
            return self.p.not_found(request, who)
        form = form or {"usage": state.usage, "evaluation_allowed": state.evaluation_allowed}
        return self.p.render(request, "agreement.html", {"state": state, "error": error, "usages": list(USAGES),
                                                         "form": form}, who, status)

    async def agreement_accept(self, request: Request) -> Response:
        posted = await self.p.signed_form(request, "contributor")
        if isinstance(posted, Response):
            return posted
        who, form = posted
        t = self.p.t(request)
        state = await run_in_threadpool(self.state, who.account.contributor_id)
        if state.current is None:
            return self.p.not_found(request, who)
        usage = str(form.get("usage", ""))
        evaluation = str(form.get("evaluation_allowed", "")).lower() in CHECKED
        chosen = {"usage": usage if usage in USAGES else state.usage, "evaluation_allowed": evaluation}
        if str(form.get("version", "")) != state.current.version:
            return self._agreement(request, who, t("agreement_changed", version=state.current.version), 409, chosen)
        if usage not in USAGES:
            return self._agreement(request, who, t("unknown_usage", usage=usage), 400, chosen)
        if str(form.get("rights_attested", "")).lower() not in CHECKED:
            return self._agreement(request, who, t("rights_required_agreement"), 400, chosen)
        await run_in_threadpool(
            self.p.registry.accept, who.account.contributor_id, state.current.version, who.account.name,
            request.client.host if request.client else "unknown", request.headers.get("user-agent", ""), usage,
            evaluation)
        return RedirectResponse(f"/uploads?agreed={quote(state.current.version, safe='')}", status_code=303)

    # ---- erasure ------------------------------------------------------------------------------------------
    def erase(self, request: Request, contributor_id: str, file: str, reason: str, requested_by: str,
              ) -> tuple[list[tuple[str, str]], int]:
        """The messages for the page and its status, for an erasure of one of `contributor_id`'s files."""
        t = self.p.t(request)
        if not reason.strip():
            return [("error", t("erase_reason_required"))], 400
        p = self.p
        try:
            taken = request_erasure(contributor_id, file, requested_by, reason.strip()[:MAX_REASON],
                                    registry=p.registry, landing_zone=p.landing, archive=p.archive,
                                    warehouse=p.warehouse)
        except ConsentError as exc:
            return [("error", t("erase_refused", file=file, reason=str(exc)))], 400
        except duckdb.IOException:
            return [("error", t("erase_busy"))], 503
        return [("ok", t("erase_taken", file=file, removed=len(taken.files_removed),
                         copies=taken.copies_destroyed))], 200

    async def erase_file(self, request: Request) -> Response:
        posted = await self.p.signed_form(request, "contributor")
        if isinstance(posted, Response):
            return posted
        who, form = posted
        messages, status = await run_in_threadpool(
            self.erase, request, who.account.contributor_id, str(form.get("file", "")), str(form.get("reason", "")),
            who.account.name)
        return await run_in_threadpool(self.p.uploads_page, request, messages, status)

    async def operator_erase(self, request: Request) -> Response:
        posted = await self.p.signed_form(request, "operator")
        if isinstance(posted, Response):
            return posted
        who, form = posted
        contributor_id = request.path_params["contributor"]
        try:
            if not await run_in_threadpool(self.p.known, contributor_id):
                return self.p.not_found(request, who)
        except WarehouseBusy:
            return self.p.busy(request, who)
        messages, status = await run_in_threadpool(
            self.erase, request, contributor_id, str(form.get("file", "")), str(form.get("reason", "")),
            who.account.name)
        return await run_in_threadpool(self.p.contributor_view, request, who, contributor_id, messages, status)

    # ---- the operator publishes ----------------------------------------------------------------------------
    def operator_agreement(self, request: Request, messages: list[tuple[str, str]] | None = None,
                           status: int = 200, form: dict | None = None) -> Response:
        who = self.p.guard(request, "operator")
        if isinstance(who, Response):
            return who
        state = self.state(None)
        if state.current and request.query_params.get("published") == state.current.version and not messages:
            messages = [("ok", self.p.t(request)("published", version=state.current.version))]
        log = [{"contributor_id": c, "version": v, "accepted_by": by, "accepted_at": at[:19].replace("T", " "),
                "address": address, "user_agent": agent, "usage": usage, "evaluation_allowed": bool(evaluation)}
               for c, v, by, at, address, agent, usage, evaluation in self.p.registry.acceptance_log()]
        return self.p.render(request, "operator_agreement.html", {
            "state": state, "log": list(reversed(log)), "messages": messages or [],
            "form": form or {"version": "", "text": ""}}, who, status)

    async def operator_publish(self, request: Request) -> Response:
        posted = await self.p.signed_form(request, "operator")
        if isinstance(posted, Response):
            return posted
        who, form = posted
        version, text = str(form.get("version", "")), str(form.get("text", ""))
        try:
            agreement = await run_in_threadpool(self.p.registry.publish_agreement, version, text, who.account.name)
        except ConsentError as exc:
            message = self.p.t(request)("publish_refused", reason=str(exc))
            return await run_in_threadpool(self.operator_agreement, request, [("error", message)], 400,
                                           {"version": version, "text": text})
        return RedirectResponse(f"/operator/agreement?published={quote(agreement.version, safe='')}",
                                status_code=303)

    def routes(self) -> list[Route]:
        return [
            Route("/agreement", self.agreement_page, methods=["GET"], name="agreement"),
            Route("/agreement", self.agreement_accept, methods=["POST"]),
            Route("/files/erase", self.erase_file, methods=["POST"], name="erase"),
            Route("/operator/contributors/{contributor}/files/erase", self.operator_erase, methods=["POST"]),
            Route("/operator/agreement", self.operator_agreement, methods=["GET"], name="operator_agreement"),
            Route("/operator/agreement", self.operator_publish, methods=["POST"]),
        ]
