"""`onett agreement` and `onett erase`: the contributor agreement and its acceptances, and erasure requests."""

from __future__ import annotations

import getpass
from pathlib import Path

from onett_cli.runner import run_partitions
from onett_cli.session import Session, failure, say
from onett_cli.tables import text_table
from onett_assets.planning import plan_ingest
from onett_resources.consent import ConsentError
from onett_resources.erasure_requests import request_erasure


def _operator(args) -> str:
    return args.by or getpass.getuser()


def cmd_agreement(args) -> int:
    s = Session()
    registry = s.resources["consent"]
    try:
        if args.action == "publish":
            text = Path(args.file).read_text(encoding="utf-8")
            agreement = registry.publish_agreement(args.version, text, _operator(args))
            say(f"agreement version {agreement.version} published ({agreement.sha256[:12]}); contributors accept it "
                "in the portal before their next upload is read")
        elif args.action == "accept":
            current = registry.current_agreement()
            version = args.version or (current[0].version if current else None)
            if version is None:
                raise ConsentError("no agreement is published: `onett agreement publish VERSION FILE` first")
            accepted = registry.accept(args.contributor, version, _operator(args), "recorded by operator",
                                       "onett agreement accept", args.usage, args.evaluation)
            say(f"{accepted.contributor_id} accepted version {accepted.version} (recorded by {accepted.accepted_by})")
        else:
            current = registry.current_agreement()
            say(f"current agreement: version {current[0].version}, published {current[0].published_at:%Y-%m-%d}"
                if current else "no agreement published: uploads are read under the platform's default terms")
            log = registry.acceptance_log()
            if log:
                say(text_table(["contributor", "version", "accepted by", "at", "from", "default usage", "evaluation"],
                               [[c, v, by, at[:19], addr, usage, "yes" if ev else "no"]
                                for c, v, by, at, addr, _, usage, ev in log]))
    except (ConsentError, ValueError, OSError) as exc:
        say(f"onett agreement: {exc}")
        return 1
    return 0


def cmd_erase(args) -> int:
    s = Session()
    if not args.all and not args.file:
        raise SystemExit("onett erase: give a FILE of the contributor, or --all")
    try:
        taken = request_erasure(args.contributor, "*" if args.all else args.file, _operator(args), args.reason or "",
                                registry=s.resources["consent"], landing_zone=s.resources["landing_zone"],
                                archive=s.resources["upload_archive"], warehouse=s.resources["warehouse"])
    except ConsentError as exc:
        say(f"onett erase: {exc}")
        return 1
    say(f"erasure recorded ({len(taken.requests)} version(s)); removed from the landing zone: "
        f"{', '.join(taken.files_removed) or 'nothing'}; archived copies destroyed: {taken.copies_destroyed}")
    plan = plan_ingest(s.instance, s.resources["landing_zone"], s.policy, s.resources["consent"])
    pending = [p for p in plan.pending if p.contributor_id == args.contributor]
    outcomes = run_partitions(s, pending, say) if pending else []
    if any(not o.ok for o in outcomes):
        say("processing the submission without the file FAILED; the erasure finishes with the next `onett ingest`")
        return 1
    result = s.run("finish_erasures")
    if not result.success:
        say(f"erasure: FAILED {failure(result)}")
        return 1
    left = s.resources["consent"].erasures(args.contributor, pending=True)
    say("erased: the text is gone from the landing zone, the archive, the Parquet parts, the releases and the index"
        if not left else f"{len(left)} erasure(s) still pending: they finish with the next `onett ingest`")
    return 0 if not left else 1
