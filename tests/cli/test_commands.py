"""The `onett` command's words: months are given as YYYY-MM with --month (the older --period still works)."""

from __future__ import annotations

import json

import pytest

from conftest import distinct_texts, seoul


def test_month_option_and_its_older_name(onett):
    texts = distinct_texts("ko_petitions", "petitions.jsonl.gz", 2)
    onett.drop("alice", "a.jsonl", [{"text": t} for t in texts], seoul(2026, 10, 3, 10))
    onett.ok("ingest")
    by_month = json.loads(onett.ok("statement", "alice", "--month", "2026-10", "--json"))
    by_period = json.loads(onett.ok("statement", "alice", "--period", "2026-10", "--json"))
    assert by_month == by_period and by_month["as_of_period"] == "2026-10"
    assert "Token funnel (2026-10)" in onett.ok("statement", "alice", "--month", "2026-10")
    assert onett.ok("reasons", "alice", "--month", "2026-10") == onett.ok("reasons", "alice", "--period", "2026-10")
    for args in (["statement", "alice", "--month", "2026-13"], ["close", "October"]):
        with pytest.raises(SystemExit, match="is not a month; use YYYY-MM"):
            onett.cli(*args)
