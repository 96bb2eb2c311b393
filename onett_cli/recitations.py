"""`onett recitations`: some days of the consumer's model output logs checked against contributed text."""

from __future__ import annotations

from datetime import date, timedelta

from onett_cli.session import Session, failure, run_metadata, say


def cmd_recitations(args) -> int:
    s = Session()
    try:
        days = [date.fromisoformat(d) for d in args.days] if args.days else [s.today() - timedelta(days=1), s.today()]
    except ValueError as exc:
        raise SystemExit(f"onett recitations: {exc} (days are YYYY-MM-DD)") from None
    failed = 0
    for day in days:
        result = s.run("check_recitations", day.isoformat())
        if not result.success:
            say(f"{day}: FAILED {failure(result)}")
            failed += 1
            continue
        outputs = run_metadata(result, "recitation_incidents", "outputs")
        reciting = run_metadata(result, "recitation_incidents", "outputs reciting contributed text")
        say(f"{day}: {outputs} outputs checked, {reciting} recite contributed text")
        problems = run_metadata(result, "recitation_incidents", "lines not read")
        if problems and problems != "none":
            say(f"  lines not read:\n{problems}")
    return 1 if failed else 0
