"""`onett credit`: the 1T Club's API credit. Every partner's balance, one partner's ledger, or the operator's CSV
of billable usage per partner for a month (`onett credit export MONTH`)."""

from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path

from onett_cli.session import Session, say
from onett_cli.tables import text_table
from onett_domain import api_credit as credit
from onett_domain.periods import parse_month

def cmd_credit(args) -> int:
    words = list(args.what or [])
    if words[:1] == ["export"]:
        if len(words) != 2:
            raise SystemExit("onett credit export: give a month (YYYY-MM)")
        return _export(words[1], args.out)
    if len(words) > 1:
        raise SystemExit("onett credit: give one contributor, or `export MONTH`")
    s = Session()
    with s.resources["warehouse"].reader() as conn:
        if not words:
            entries = credit.stored_entries(conn)
            rows = [[c, f"{x.granted:,}", f"{x.used:,}", f"{x.expired:,}", f"{x.corrections:,}",
                     f"{x.billable + x.billable_corrections:,}", f"{x.balance:,}"]
                    for c, x in credit.summarize(entries).items()]
            say(f"API credit: {s.settings.credit_ratio} API token(s) per credited token, grants expire after "
                + (f"{s.settings.credit_expiry_months} months" if s.settings.credit_expiry_months else "never"))
            say(text_table(["contributor", "granted", "used", "expired", "corrections", "billable", "balance"], rows)
                if rows else "no credit granted yet")
            return 0
        contributor = unicodedata.normalize("NFC", words[0])
        if contributor not in credit.known_contributors(conn):
            print(f"onett: no uploads or payouts for contributor {contributor!r}", file=sys.stderr)
            return 2
        entries = credit.stored_entries(conn, contributor)
        section = credit.credit_section(conn, contributor, s.policy)
    if args.json:
        print(json.dumps({**section, "ledger": [dict(zip(credit.COLUMNS, e.row())) for e in entries]},
                         ensure_ascii=False, indent=2, default=str))
        return 0
    cur = section["currency"]
    say(f"API credit of {contributor}: granted {section['granted']:,}, used {section['used']:,}, expired "
        f"{section['expired']:,}, left {section['left']:,} tokens; billable usage {section['billable']:,} tokens")
    nxt = section["expiring_next"]
    if nxt:
        say(f"  expiring next: {nxt['tokens']:,} tokens on {nxt['on']} (granted for {nxt['grant']})")
    say(f"  value of the credit used: {section['value_used']} {cur} (each month at its average billed price)")
    say("\nLedger")
    say(text_table(["month", "entry", "corrects", "grant", "credit", "billable", "expires", "balance", "note"],
                   [[m, e, c, g, f"{cr:,}", f"{b:,}", x, f"{bal:,}", note]
                    for m, e, c, g, cr, b, x, bal, note in credit.ledger_rows(entries)]) if entries else "(none)")
    return 0


def _export(month_text: str, out: str | None) -> int:
    try:
        month = parse_month(month_text)
    except ValueError as exc:
        raise SystemExit(f"onett: {exc}") from None
    s = Session()
    with s.resources["warehouse"].reader() as conn:
        rows = credit.billable_export(conn, month, s.policy)
    text = credit.export_csv(rows)
    if out:
        Path(out).write_text(text, encoding="utf-8-sig")
        say(f"{len(rows)} partner(s) for {month:%Y-%m} written to {out}")
    else:
        sys.stdout.write(text)
    return 0
