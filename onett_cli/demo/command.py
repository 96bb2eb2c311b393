"""`onett demo`: fill the landing zone, revenue and reference folders with the demo data."""

from __future__ import annotations

from onett_cli.demo import build_demo
from onett_cli.session import prepare_home, say
from onett_resources import load_settings


def cmd_demo(args) -> int:
    prepare_home()
    settings = load_settings()
    summary = build_demo(settings)
    say(f"demo: {summary['files']} files from {len(summary['contributors'])} contributors "
        f"({', '.join(summary['contributors'])}) over {', '.join(summary['months'])}")
    say(f"      landing zone {settings.landing_dir}")
    say(f"      revenue {summary['revenue_days']} days in {settings.revenue_dir}; "
        f"reference corpus in {settings.reference_dir}")
    say("next: onett ingest && onett close --ended")
    return 0
