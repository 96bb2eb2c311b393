"""`onett membership`: words contributed against the 1T Club's threshold, applications and decisions."""

from __future__ import annotations

import getpass

from onett_cli.session import Session, say
from onett_cli.tables import text_table
from onett_domain.membership import progress
from onett_resources.consent import ConsentError


def cmd_membership(args) -> int:
    s = Session()
    registry, threshold = s.resources["consent"], s.policy.membership_words
    by = getattr(args, "by", None) or getpass.getuser()
    try:
        if args.action == "apply":
            with s.resources["warehouse"].reader() as conn:
                found = progress(conn, threshold, args.contributor)
            words = found[0].words if found else 0
            application = registry.apply_membership(args.contributor, by, words, threshold, args.message or "")
            say(f"application {application.id}: {application.contributor_id} with {words:,} words, waiting for an "
                "operator")
        elif args.action in ("approve", "decline"):
            decided = registry.decide_membership(args.application, args.action == "approve", by, args.reason)
            say(f"application {decided.id} of {decided.contributor_id}: {decided.decision} by {decided.decided_by}")
        else:
            with s.resources["warehouse"].reader() as conn:
                rows = progress(conn, threshold)
            members = registry.members()
            pending = {a.contributor_id: a for a in registry.applications(pending=True)}
            say(f"threshold: more than {threshold:,} words (a word: a whitespace-separated unit; a Korean eojeol "
                "is one)")
            say(text_table(["contributor", "words", "progress", "status"],
                           [[p.contributor_id, f"{p.words:,}", f"{p.share:.1%}",
                             "member" if p.contributor_id in members else
                             f"applied (application {pending[p.contributor_id].id})" if p.contributor_id in pending
                             else "eligible" if p.eligible else ""] for p in rows]))
    except ConsentError as exc:
        say(f"onett membership: {exc}")
        return 1
    return 0
