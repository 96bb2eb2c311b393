"""The 1T Club's API credit end to end: real uploads ingested, months closed by the `close_period` job (which loads
the usage feed and settles the credit ledger), bad feeds refused with nothing applied, and a frozen month
corrected in the next one."""

from __future__ import annotations

from datetime import date, timedelta

from conftest import distinct_texts, seoul

PETITIONS = "ko_petitions", "petitions.jsonl.gz"


def _usage(onett, rows: list[str], name: str = "usage.csv",
           header: str = "date,contributor_id,input_tokens,output_tokens"):
    folder = onett.home / "usage"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


def _ledger(onett, period: str | None = None) -> list[tuple]:
    return onett.query(
        "SELECT period, contributor_id, entry, corrects, grant_period, credit, billable FROM api_credit_ledger "
        "WHERE ? IS NULL OR period = ?::DATE ORDER BY period, contributor_id, entry, corrects, grant_period",
        [period, period])


def _failure(result, step: str):
    for event in result.all_events:
        if event.is_step_failure and event.step_key == step:
            return event.step_failure_data.user_failure_data
    raise AssertionError(f"{step} did not fail")


def test_grants_usage_bad_feeds_and_corrections(onett):
    texts = distinct_texts(*PETITIONS, 8)
    onett.drop("alice", "a.jsonl", [{"id": f"a{i}", "text": t} for i, t in enumerate(texts[:5])], seoul(2026, 9, 3, 10))
    onett.drop("bob", "b.jsonl", [{"id": f"b{i}", "text": t} for i, t in enumerate(texts[5:])], seoul(2026, 9, 4, 10))
    onett.revenue([(date(2026, 9, 1) + timedelta(n), 10, 1000, 500, "300") for n in range(61)])
    onett.ok("ingest")
    tokens = dict(onett.query("SELECT contributor_id, sum(tokens)::BIGINT FROM documents WHERE status = 'accepted' "
                              "GROUP BY 1"))
    assert set(tokens) == {"alice", "bob"} and all(t > 100 for t in tokens.values())
    # October: alice uses 100 tokens less than her credit; bob (through an api key) 250 tokens more than his
    a, b = tokens["alice"], tokens["bob"]
    _usage(onett, [f"2026-10-02,alice,{a - 160},60"])
    _usage(onett, ["2026-10-05,key-b1,100,50", f"2026-10-06,key-b2,{b},100"], "keys.csv",
           "date,api_key,input_tokens,output_tokens")
    (onett.home / "usage" / "api_keys.csv").write_text("api_key,contributor_id\nkey-b1,bob\nkey-b2,bob\n")

    onett.ok("close", "2026-09")
    assert _ledger(onett) == [(date(2026, 9, 1), "alice", "grant", "", date(2026, 9, 1), a, 0),
                              (date(2026, 9, 1), "bob", "grant", "", date(2026, 9, 1), b, 0)]
    assert onett.query("SELECT expires_on FROM api_credit_ledger WHERE contributor_id = 'alice'") == [
        (date(2027, 10, 1),)]
    onett.ok("close", "2026-10")
    assert _ledger(onett, "2026-10-01") == [(date(2026, 10, 1), "alice", "usage", "", date(2026, 9, 1), -(a - 100), 0),
                                            (date(2026, 10, 1), "bob", "billable", "", None, 0, 250),
                                            (date(2026, 10, 1), "bob", "usage", "", date(2026, 9, 1), -b, 0)]
    assert onett.query("SELECT period, frozen_at IS NOT NULL FROM api_credit_months ORDER BY 1") == [
        (date(2026, 9, 1), True), (date(2026, 10, 1), True)]
    # credited usage adds nothing to the revenue: R_API of October is its 31 billed days
    assert onett.query("SELECT revenue FROM payout_periods WHERE period = '2026-10-01'")[0][0] == 300 * 31

    s = onett.session()
    result = s.run("close_period", "2026-10-01")
    assert result.success
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "api_credit_balances")
    assert check.passed
    ledger_md = next(m for m in result.asset_materializations_for_node("api_credit")).metadata["ledger"].value
    # alice: used a - 100 of a, 0 billable, balance 100; October's price 9300 / 46500 tokens = 0.2 won per token
    assert f"| alice | 0 | {a - 100} | 0 | 0 | 0 | 100 | {(a - 100) // 5} KRW |" in ledger_md

    before = onett.query("SELECT * FROM api_usage ORDER BY ALL")
    ledger = _ledger(onett)
    # a feed with a contributor nobody knows and a day reported twice: the run fails, nothing is applied
    _usage(onett, [f"2026-10-02,alice,{a - 160},60", "2026-10-03,mallory,5,5", "2026-10-02,alice,1,1"])
    result = s.run("close_period", "2026-10-01")
    assert not result.success
    failure = _failure(result, "api_usage")
    errors = failure.metadata["errors"].value
    assert failure.metadata["error count"].value == 2
    assert "usage.csv line 3: contributor 'mallory' is not known" in errors
    assert "usage.csv line 4: 2026-10-02 of alice is already reported in usage.csv line 2" in errors
    assert onett.query("SELECT * FROM api_usage ORDER BY ALL") == before and _ledger(onett) == ledger
    assert "api_credit" not in {e.step_key for e in result.all_events if e.is_step_success}

    # late usage for frozen October: recorded as corrections in November, October stays as recorded
    _usage(onett, [f"2026-10-02,alice,{a - 160},60", "2026-10-31,alice,130,0"])
    frozen = _ledger(onett, "2026-10-01")
    assert s.run("close_period", "2026-10-01").success
    assert _ledger(onett, "2026-10-01") == frozen
    assert _ledger(onett, "2026-11-01") == [
        (date(2026, 11, 1), "alice", "correction", "billable", None, 0, 30),
        (date(2026, 11, 1), "alice", "correction", "usage", date(2026, 9, 1), -100, 0)]
    assert onett.query("SELECT sum(credit) FROM api_credit_ledger WHERE contributor_id = 'alice'")[0][0] == 0

    # the statement and the operator's export see the same ledger
    import json

    section = json.loads(onett.ok("statement", "alice", "--json"))["api_credit"]
    assert (section["granted"], section["used"], section["billable"], section["left"]) == (a, a, 30, 0)
    ledger_text = onett.ok("credit", "alice")
    assert f"granted {a:,}, used {a:,}, expired 0, left 0 tokens; billable usage 30 tokens" in ledger_text
    assert "correction" in ledger_text and "bob" in onett.ok("credit")
    assert onett.cli("credit", "mallory")[0] == 2
    export = onett.home / "export.csv"
    onett.ok("credit", "export", "2026-10", "--out", str(export))
    lines = export.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("period,contributor_id,used_tokens,credited_tokens,billable_tokens")
    assert f"2026-10,bob,{b + 250},{b},250" in "\n".join(lines)


def test_the_feed_reports_every_error_with_its_file_and_line(tmp_path):
    from onett_resources import UsageFeed

    (tmp_path / "a.csv").write_text("date,contributor_id,input_tokens,output_tokens\n2026-10-01,alice,5,x\n"
                                    "2026-13-01,bob,1,1\n2026-10-01,alice,1,1\n2026-10-01,alice,2,2\n")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "b.csv").write_text("date,api_key,input_tokens,output_tokens\n2026-10-01,k1,5,5\n"
                                             "2026-10-01,k9,1,1\n2026-10-02,k1,-1,1\n2026-10-03,k1,7,3\n")
    (tmp_path / "keys" / "api_keys.csv").write_text("api_key,contributor_id\nk1,alice\n")
    (tmp_path / "c.csv").write_bytes(b"date,contributor_id,input_tokens,output_tokens\n2026-10-01,\xff,1,1\n")
    rows, errors = UsageFeed(path=str(tmp_path)).read()
    assert [(r.date, r.contributor_id, r.api_key, r.tokens, r.source) for r in rows] == [
        (date(2026, 10, 1), "alice", "", 2, "a.csv line 4"), (date(2026, 10, 3), "alice", "k1", 10, "keys/b.csv line 5")]
    assert errors == [
        "a.csv line 2: output_tokens 'x' is not a non-negative whole number",
        "a.csv line 3: date '2026-13-01' is not YYYY-MM-DD",
        "a.csv line 5: 2026-10-01 of alice is already reported in a.csv line 4",
        "c.csv: not UTF-8 text (invalid start byte); export the feed as UTF-8",
        "keys/b.csv line 2: 2026-10-01 of alice (api key k1) is already reported in a.csv line 4",
        "keys/b.csv line 3: api key 'k9' is not in api_keys.csv",
        "keys/b.csv line 4: input_tokens '-1' is not a non-negative whole number",
    ]
