"""`onett statement` and `onett reasons`: a contributor's numbers and why documents earn nothing, printed."""

from __future__ import annotations

import json
import sys
import unicodedata
from decimal import Decimal

from onett_cli.session import Session, say
from onett_cli.tables import text_table
from onett_domain.periods import parse_month
from onett_domain.statement import UnknownContributor, build_statement, document_reasons


def _month(text: str | None):
    try:
        return parse_month(text) if text else None
    except ValueError as exc:
        raise SystemExit(f"onett: {exc}") from None


def cmd_statement(args) -> int:
    s = Session()
    contributor_id = unicodedata.normalize("NFC", args.contributor)
    month = _month(args.month)
    with s.resources["warehouse"].reader() as conn:
        try:
            st = build_statement(conn, contributor_id, s.resources["consent"].sharing(s.policy), s.today(), month)
        except UnknownContributor as exc:
            print(f"onett: {exc}", file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps(st, ensure_ascii=False, indent=2, default=str))
        return 0
    cur = st["currency"]
    exp = st["expected_payout"]
    say(f"Statement for {st['contributor_id']} (as of {st['as_of_period']})\n")
    say(f"  Data contribution ratio   {Decimal(st['contribution_ratio']) * 100:.4f} %  "
        f"({st['contribution_tokens']:,} of {st['all_contributors_tokens']:,} tokens)")
    say(f"  Contribution token count  {st['contribution_tokens']:,}")
    say(f"  Current monetary reward   {st['current_reward']} {cur} (paid for closed months)")
    say(f"  Expected payout           {exp['amount']} {cur} for {exp['period']}, paid after {exp['payout_date']}")
    say(f"      estimated revenue {exp['estimated_revenue']} {cur} ({exp['basis']}; "
        f"{exp['days_reported']}/{exp['days_in_month']} days reported) x alpha {st['alpha']} "
        f"x your share {Decimal(exp['share']):.6f}")
    if st["pending_adjustments"]:
        say("      includes adjustments of closed months: "
            + ", ".join(f"{a['amount']} {cur} for {a['period']}" for a in st["pending_adjustments"]))
    club = st["membership"]
    say(f"  1T Club membership        {club['words']:,} of {club['threshold']:,} words ({club['progress']:.1%}); "
        + _membership_status(s, st["contributor_id"], club))
    api = st.get("api_credit")
    if api and (api["granted"] or api["billable"]):
        say(f"  Free API tokens (1T Club) granted {api['granted']:,}, used {api['used']:,}, left {api['left']:,}; "
            f"value used {api['value_used']} {cur} (details: onett credit {st['contributor_id']})")
    if st["payout_history"]:
        say("\nPayout history")
        say(text_table(["month", "tokens", "ratio", f"amount ({cur})", "of which adjustments"],
                       [[h["period"], f"{h['tokens']:,}", f"{Decimal(h['ratio']):.6f}", h["amount"],
                         h["adjustment_included"]] for h in st["payout_history"]]))
    if st.get("withdrawn"):
        say("\nWithdrawn files (removed from the landing zone: they earned until then, closed months stay as paid)")
        say(text_table(["file", "uploaded", "withdrawn on", "documents", "tokens that stopped earning"],
                       [[w["file"], w["submitted_at"][:10], w["withdrawn_on"], f"{w['docs']:,}",
                         f"{w['tokens_stopped']:,}"] for w in st["withdrawn"]]))
    if st["waiting"]:
        say("\nFiles waiting, not read yet")
        say(text_table(["month", "file", "why"], [[w["period"], w["file"], w["reason"]] for w in st["waiting"]]))
    if st["erased"]:
        say("\nErased files (their text is destroyed; the tokens they earned stay on record)")
        say(text_table(["month", "file", "erasure"], [[e["period"], e["file"], e["reason"]] for e in st["erased"]]))
    if st["terms"]:
        say("\nTerms your earning documents were given under (redistribution: never)")
        say(text_table(["usage", "evaluation", "expires", "documents", "tokens"],
                       [[t["usage"], "allowed" if t["evaluation_allowed"] else "no", t["expires"] or "-",
                         f"{t['docs']:,}", f"{t['tokens']:,}"] for t in st["terms"]]))
    if st["removed"]:
        say("\nWhy documents earned nothing (details: onett reasons " + st["contributor_id"] + ")")
        say(text_table(["rule", "documents", "tokens", "example"],
                       [[r["rule"], f"{r['docs']:,}", f"{r['tokens']:,}", r["example"][:90]] for r in st["removed"]]))
    say("\nToken funnel" + (f" ({month:%Y-%m})" if month else " (all your uploads)"))
    say(text_table(["stage", "documents", "tokens", "meaning"],
                   [[f["stage"], f"{f['docs']:,}", f"{f['tokens']:,}", f["meaning"]] for f in st["funnel"]]))
    return 0


def _membership_status(s: Session, contributor_id: str, club: dict) -> str:
    applications = s.resources["consent"].applications(contributor_id)
    last = applications[-1] if applications else None
    if last and last.decision == "approved":
        return f"member since {last.decided_at:%Y-%m-%d} (approved by {last.decided_by})"
    if last and last.decision == "pending":
        return f"applied {last.applied_at:%Y-%m-%d}, waiting for an operator"
    text = "eligible: apply in the portal or with `onett membership apply`" if club["eligible"] else "not eligible yet"
    if last and last.decision == "declined":
        text = f"declined {last.decided_at:%Y-%m-%d} ({last.reason}); " + text
    if club["share_requires_membership"]:
        text += "; the revenue share is paid to members only"
    return text


def cmd_reasons(args) -> int:
    s = Session()
    contributor_id = unicodedata.normalize("NFC", args.contributor)
    month = _month(args.month)
    with s.resources["warehouse"].reader() as conn:
        rows = document_reasons(conn, contributor_id, month, args.limit)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
    elif not rows:
        say(f"every document of {contributor_id} earns tokens" if month is None else f"nothing removed in {month:%Y-%m}")
    else:
        say(text_table(["month", "file", "#", "id", "rule", "tokens", "reason"],
                       [[f"{r['period']:%Y-%m}", r["file"], r["position"], r["doc_id"] or "", r["rule"] or r["status"],
                         r["tokens"], r["reason"]] for r in rows]))
    return 0
