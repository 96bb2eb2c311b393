"""What needs processing: uploads grouped into submissions (contributor x month in the platform's time zone) and
compared with what each submission was last computed from."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from onett_domain.planning import group_uploads, plan_ingest
from onett_domain.policy import Policy
from onett_domain.uploads import Upload, fingerprint

POLICY = Policy(Decimal("0.3"), "KRW", "Asia/Seoul", date(2023, 1, 1))
SEOUL = ZoneInfo("Asia/Seoul")


def upload(contributor: str, name: str, when: datetime, size: int = 10) -> Upload:
    return Upload(contributor, name, Path("/landing") / contributor / name, size, int(when.timestamp() * 10**9))


def test_uploads_group_by_month_in_the_platform_time_zone_and_bad_ones_are_explained():
    uploads = [
        upload("alice", "late.jsonl", datetime(2026, 10, 1, 0, 30, tzinfo=SEOUL)),  # still September in UTC
        upload("alice", "early.jsonl", datetime(2026, 9, 30, 23, 30, tzinfo=SEOUL)),
        upload("bob", "old.txt", datetime(2019, 5, 1, tzinfo=SEOUL)),  # before the first month: counts from it
        upload("a|b", "x.txt", datetime(2026, 10, 2, tzinfo=SEOUL)),
        upload("carol", "future.txt", datetime(2026, 12, 1, tzinfo=SEOUL)),
    ]
    groups, ignored = group_uploads(uploads, POLICY, this_month=date(2026, 11, 1))
    assert {k: [u.file for u in v] for k, v in groups.items()} == {
        ("alice", date(2026, 10, 1)): ["late.jsonl"], ("alice", date(2026, 9, 1)): ["early.jsonl"],
        ("bob", date(2023, 1, 1)): ["old.txt"]}
    assert len(ignored) == 2 and "'a|b'" in ignored[0] and "modified in the future" in ignored[1]


def test_only_changed_or_vanished_submissions_are_pending():
    october = date(2026, 10, 1)
    same = upload("alice", "a.jsonl", datetime(2026, 10, 3, tzinfo=SEOUL))
    changed = upload("bob", "b.jsonl", datetime(2026, 10, 4, tzinfo=SEOUL))
    groups = {("alice", october): [same], ("bob", october): [changed]}
    computed = {("alice", october): fingerprint([("a.jsonl", 10, same.mtime_ns, "")], "ref"),
                ("bob", october): fingerprint([("b.jsonl", 9, changed.mtime_ns, "")], "ref"),
                ("carol", october): fingerprint([("gone.jsonl", 5, 1, "")], "ref")}
    plan = plan_ingest(groups, [], {"alice", "bob", "carol"}, computed, "ref")
    assert [(p.contributor_id, [u.file for u in p.uploads]) for p in plan.pending] == [("bob", ["b.jsonl"]),
                                                                                       ("carol", [])]
    assert plan.new_contributors == []
    # a new reference corpus re-checks every submission; a contributor never seen is registered
    plan = plan_ingest({**groups, ("dave", october): [same]}, [], {"alice", "bob"}, computed, "new reference")
    assert len(plan.pending) == 4 and plan.new_contributors == ["dave"]
