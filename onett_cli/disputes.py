"""`onett dispute`: open disputes about closed months, their threads, answers and resolutions."""

from __future__ import annotations

import getpass

from onett_cli.session import Session, say
from onett_cli.tables import text_table
from onett_domain.disputes import Dispute, DisputeError, parse_adjustment


def _thread(dispute: Dispute, tz) -> str:
    lines = [f"dispute {dispute.id}: {dispute.contributor_id} about {dispute.period:%Y-%m}, "
             + (f"resolved by {dispute.resolved_by}: " + ("no change" if dispute.resolution == "no_change" else
                                                           f"adjustment of {dispute.amount} {dispute.currency}")
                if dispute.resolution else "open")]
    for m in dispute.messages:
        lines.append(f"  {m.written_at.astimezone(tz):%Y-%m-%d %H:%M} {m.author} ({m.role}): {m.text}")
    return "\n".join(lines)


def cmd_dispute(args) -> int:
    s = Session()
    register, policy = s.resources["disputes"], s.policy
    by = getattr(args, "by", None) or getpass.getuser()
    try:
        if args.action == "show":
            say(_thread(register.dispute(args.dispute), policy.tz))
        elif args.action == "answer":
            say(_thread(register.write(args.dispute, by, "operator", args.message), policy.tz))
        elif args.action == "resolve":
            amount = parse_adjustment(args.adjust, policy.currency) if args.adjust else None
            resolved = register.resolve(args.dispute, by, args.message, amount, policy.currency if amount else None)
            say(_thread(resolved, policy.tz))
            if amount is not None:
                say("the adjustment is recorded with the next payouts computed and paid with the next month that "
                    "closes")
        else:
            everything = getattr(args, "all", False)
            disputes = register.disputes(open_only=not everything)
            say(text_table(["dispute", "contributor", "month", "opened", "state", "messages"],
                           [[d.id, d.contributor_id, f"{d.period:%Y-%m}", f"{d.opened_at.astimezone(policy.tz):%Y-%m-%d}",
                             d.resolution.replace("_", " ") if d.resolution else "answered" if d.answered else "open",
                             len(d.messages)] for d in disputes]) if disputes else "no disputes"
                + ("" if everything else " open"))
    except DisputeError as exc:
        say(f"onett dispute: {exc}")
        return 1
    return 0
