"""The 1T Club's API credit rules: grants from newly credited tokens, usage drawn from the grant expiring first,
expiry, billable usage, frozen months corrected in the next month, and a ledger whose sums add up."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import duckdb
import pytest

from onett_domain import api_credit as credit
from onett_domain.api_credit import Grant, Usage
from onett_domain.policy import Policy
from onett_resources.warehouse import SCHEMA

SEP, OCT, NOV, DEC = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)
POLICY = Policy(Decimal("0.3"), "KRW", "Asia/Seoul", date(2026, 1, 1))
NOW = datetime(2026, 12, 20, tzinfo=timezone.utc)


def test_grant_is_newly_credited_tokens_times_ratio_rounded_down():
    assert credit.grant_tokens(1001, Decimal("1.5")) == 1501  # 1501.5 -> 1501
    assert credit.grant_tokens(3, Decimal("0.333")) == 0
    grants = credit.make_grants([("alice", SEP, 1001), ("bob", SEP, 1)], Decimal("0.5"), 12)
    # a grant of zero tokens is none; effective the month after, expiring 12 months later
    assert grants == [Grant("alice", SEP, 500, OCT, date(2027, 10, 1))]
    assert credit.make_grants([("alice", SEP, 10)], Decimal(1), 0)[0].expires_on is None


def test_usage_draws_the_grant_expiring_first_and_the_rest_is_billable():
    old = Grant("alice", date(2026, 8, 1), 100, SEP, DEC)  # expires first
    new = Grant("alice", SEP, 1000, OCT, date(2027, 10, 1))
    forever = Grant("alice", date(2026, 7, 1), 50, date(2026, 8, 1), None)  # never expires: drawn last
    usage = [Usage(date(2026, 10, 3), "alice", 80), Usage(date(2026, 10, 4), "alice", 1060),
             Usage(date(2026, 9, 30), "alice", 30)]
    ledger = credit.simulate([old, new, forever], usage, [date(2026, 7, 1), date(2026, 8, 1), SEP, OCT])
    september = {(e.entry, e.grant_period): (e.credit, e.billable) for e in ledger[SEP]}
    # in September only the old grant (and the one that never expires) are in effect: old first
    assert september[("usage", date(2026, 8, 1))] == (-30, 0)
    assert september[("grant", SEP)] == (1000, 0)
    october = {(e.entry, e.grant_period): (e.credit, e.billable) for e in ledger[OCT]}
    # 1140 used: 70 left of the old grant, 1000 of the new, 50 of the one that never expires, 20 billable
    assert october == {("usage", date(2026, 8, 1)): (-70, 0), ("usage", SEP): (-1000, 0),
                       ("usage", date(2026, 7, 1)): (-50, 0), ("billable", None): (0, 20)}
    total = credit.summarize([e for m in ledger.values() for e in m])["alice"]
    assert (total.granted, total.used, total.expired, total.billable, total.balance) == (1150, 1150, 0, 20, 0)


def test_grants_not_yet_effective_are_not_drawn_and_leftovers_expire():
    g = Grant("bob", SEP, 500, OCT, DEC)  # usable in October and November
    usage = [Usage(date(2026, 9, 15), "bob", 40), Usage(date(2026, 10, 15), "bob", 120)]
    ledger = credit.simulate([g], usage, [SEP, OCT, NOV, DEC])
    assert [(e.entry, e.credit, e.billable) for e in ledger[SEP]] == [("grant", 500, 0), ("billable", 0, 40)]
    assert [(e.entry, e.credit) for e in ledger[OCT]] == [("usage", -120)]
    # what is left when it expires at the end of November is written off there
    assert [(e.entry, e.credit, e.note) for e in ledger[NOV]] == [("expiry", -380, "unused on 2026-12-01")]
    assert ledger[DEC] == []
    s = credit.summarize([e for m in ledger.values() for e in m])["bob"]
    assert (s.granted, s.used, s.expired, s.billable, s.balance, s.adds_up) == (500, 120, 380, 40, 0, True)


def test_corrections_are_the_difference_per_kind_and_grant():
    g = Grant("alice", SEP, 1000, OCT, None)
    recorded = credit.simulate([g], [Usage(date(2026, 10, 2), "alice", 300)], [SEP, OCT])[OCT]
    ideal = credit.simulate([g], [Usage(date(2026, 10, 2), "alice", 300), Usage(date(2026, 10, 9), "alice", 900)],
                            [SEP, OCT])[OCT]
    fixes = credit.corrections(ideal, recorded, OCT, NOV)
    assert [(e.period, e.entry, e.corrects, e.corrects_period, e.grant_period, e.credit, e.billable)
            for e in fixes] == [(NOV, "correction", "usage", OCT, SEP, -700, 0),
                                (NOV, "correction", "billable", OCT, None, 0, 200)]
    assert credit.corrections(ideal, ideal, OCT, NOV) == []


def test_value_of_credit_used_at_the_months_average_billed_price():
    # 1,000,000 billed tokens for 3,333.33: 1,234 credited tokens are worth 4.113329... -> 4.11 (cents), 4 (won)
    assert credit.credit_value(1234, Decimal("3333.33"), 1_000_000, 2) == Decimal("4.11")
    assert credit.credit_value(1234, Decimal("3333.33"), 1_000_000, 0) == Decimal("4")
    assert credit.credit_value(1234, Decimal("10"), 0, 0) is None  # no billed tokens: no price
    assert credit.price_per_token(Decimal("3"), 4) == Decimal("0.75")


# ---- on a warehouse --------------------------------------------------------------------------------------------
@pytest.fixture
def conn():
    c = duckdb.connect(":memory:")
    c.execute("SET TimeZone = 'UTC'")
    c.execute(SCHEMA)
    yield c
    c.close()


def _document(conn, contributor, period, position, tokens, submitted, withdrawn=None, content=None, status="accepted"):
    label = content or f"{contributor}-{position}"
    conn.execute(
        "INSERT INTO documents (contributor_id, period, file, position, doc_id, submitted_at, content_hash, raw_tokens,"
        " tokens, status, reason, duplicate_of, withdrawn_at, earns_from, hash_key) VALUES (?, ?, 'f.jsonl', ?, '', ?,"
        " ?, ?, ?, ?, '', '', ?, ?, md5(?)::UUID)",  # a key for the labels standing in for hashes here
        [contributor, period, position, submitted, label, tokens, tokens, status, withdrawn,
         submitted if status == "accepted" else None, label])


def _close(conn, period):
    conn.execute("INSERT INTO payout_periods VALUES (?, 0, 0.3, 0, 0, 'KRW', 0, 0, ?)", [period, NOW])


def _usage(conn, day, contributor, tokens):
    conn.execute("INSERT INTO api_usage VALUES (?, ?, '', ?, 0, 'usage.csv')", [day, contributor, tokens])


def _ledger(conn, period=None):
    return [(e.period, e.contributor_id, e.entry, e.corrects, e.grant_period, e.credit, e.billable)
            for e in credit.stored_entries(conn) if period is None or e.period == period]


RULES = credit.CreditRules(Decimal(1), 12)


def test_newly_credited_once_and_never_clawed_back(conn):
    # alice: 1000 tokens in September, withdrawn in November; 200 more in October, withdrawn in October (never
    # earned a month's end: never granted); bob re-uploads alice's text in November after her withdrawal
    _document(conn, "alice", SEP, 1, 1000, datetime(2026, 9, 3, tzinfo=timezone.utc),
              withdrawn=datetime(2026, 11, 2, tzinfo=timezone.utc), content="text-1")
    _document(conn, "alice", OCT, 2, 200, datetime(2026, 10, 3, tzinfo=timezone.utc),
              withdrawn=datetime(2026, 10, 20, tzinfo=timezone.utc))
    _document(conn, "bob", NOV, 1, 1000, datetime(2026, 11, 5, tzinfo=timezone.utc), content="text-1")
    _document(conn, "bob", NOV, 2, 77, datetime(2026, 11, 5, tzinfo=timezone.utc))
    _document(conn, "carol", OCT, 1, 500, datetime(2026, 10, 5, tzinfo=timezone.utc), status="duplicate")
    assert credit.credited(conn, DEC, POLICY) == [("alice", SEP, 1000), ("bob", NOV, 77)]
    # computing later months never changes September's grant: the withdrawal came after it earned
    assert credit.credited(conn, SEP, POLICY) == [("alice", SEP, 1000)]


def test_recomputing_an_open_month_gives_the_same_entries(conn):
    _document(conn, "alice", SEP, 1, 1000, datetime(2026, 9, 3, tzinfo=timezone.utc))
    _usage(conn, date(2026, 10, 7), "alice", 400)
    credit.settle(conn, OCT, POLICY, RULES, NOW)
    first = _ledger(conn)
    credit.settle(conn, OCT, POLICY, RULES, NOW)
    assert _ledger(conn) == first == [(SEP, "alice", "grant", "", SEP, 1000, 0),
                                      (OCT, "alice", "usage", "", SEP, -400, 0)]


def test_a_frozen_month_is_corrected_in_the_next_open_month(conn):
    _document(conn, "alice", SEP, 1, 1000, datetime(2026, 9, 3, tzinfo=timezone.utc))
    _usage(conn, date(2026, 10, 7), "alice", 400)
    _close(conn, SEP)
    credit.settle(conn, SEP, POLICY, RULES, NOW)  # the first computation after the close freezes September
    _close(conn, OCT)
    done = credit.settle(conn, OCT, POLICY, RULES, NOW)
    assert done.frozen_now == [OCT]
    frozen = _ledger(conn)
    # late usage rows for October arrive: 900 more, of which 600 are covered
    _usage(conn, date(2026, 10, 30), "alice", 900)
    done = credit.settle(conn, OCT, POLICY, RULES, NOW)
    assert done.frozen and [e for e in _ledger(conn) if e[0] <= OCT] == frozen  # never edited
    assert _ledger(conn, NOV) == [(NOV, "alice", "correction", "usage", SEP, -600, 0),
                                  (NOV, "alice", "correction", "billable", None, 0, 300)]
    # recomputing replaces the pending corrections, never doubles them
    credit.settle(conn, NOV, POLICY, RULES, NOW)
    assert len(_ledger(conn, NOV)) == 2
    entries = credit.stored_entries(conn)
    s = credit.summarize(entries)["alice"]
    assert (s.granted, s.used, s.corrections, s.billable_corrections, s.balance, s.adds_up) == (
        1000, 400, -600, 300, 0, True)
    assert credit.overdrawn(entries) == [] and credit.wrong_signs(entries) == []
    # once November is frozen with them, a further recomputation finds nothing to correct
    _close(conn, NOV)
    credit.settle(conn, NOV, POLICY, RULES, NOW)
    assert credit.settle(conn, OCT, POLICY, RULES, NOW).corrections == []


def test_overdrawn_and_wrong_signs_are_found():
    bad = [credit.Entry(SEP, "a", "grant", SEP, 100), credit.Entry(OCT, "a", "usage", SEP, -150),
           credit.Entry(OCT, "a", "usage", SEP, 5)]
    assert credit.overdrawn(bad) == [("a", SEP, OCT, -45)]
    assert credit.wrong_signs(bad) == [bad[2]]
