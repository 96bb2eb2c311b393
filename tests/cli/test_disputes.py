"""A disputed statement resolved by adjustment: the closed month is never edited, the adjustment is recorded once
with the next payouts and paid with the next month that closes, beside (never instead of) the adjustments of a
recomputation; every money invariant stays exact."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from conftest import corpus, seoul


def _register():
    from onett_resources import DisputeRegister, load_settings

    return DisputeRegister(path=str(load_settings().payments))


def _closed(onett) -> set[date]:
    return {r[0] for r in onett.query("SELECT period FROM payout_periods")}


def test_a_dispute_resolved_by_adjustment_is_paid_with_the_next_close(onett):
    from onett_domain.disputes import DisputeError

    texts = [d["text"] for d in corpus("ko_petitions", "petitions.jsonl.gz", limit=40)]
    onett.drop("bob", "b.jsonl", [{"id": f"b{i}", "text": t} for i, t in enumerate(texts[:10])], seoul(2026, 9, 20))
    onett.drop("carol", "c.jsonl", [{"id": f"c{i}", "text": t} for i, t in enumerate(texts[10:20])],
               seoul(2026, 9, 21))
    onett.revenue([(date(2026, 9, 1) + timedelta(n), 1, 1, 1, "1000") for n in range(61)])
    onett.ok("ingest")
    register = _register()
    with pytest.raises(DisputeError, match="not closed yet"):
        register.open_dispute("bob", date(2026, 9, 1), "bob", "too little", _closed(onett))
    onett.ok("close", "2026-09")
    published = onett.query("SELECT * FROM payouts WHERE period = '2026-09-01' ORDER BY contributor_id")

    dispute = register.open_dispute("bob", date(2026, 9, 1), "bob", "제 원고 두 편이 빠졌습니다", _closed(onett))
    with pytest.raises(DisputeError, match="already has an open dispute"):
        register.open_dispute("bob", date(2026, 9, 1), "bob", "again", _closed(onett))
    with pytest.raises(DisputeError, match="there is no dispute"):  # carol cannot write in bob's thread
        register.write(dispute.id, "carol", "contributor", "me too", contributor_id="carol")
    assert "open" in onett.ok("dispute", "list") and "bob" in onett.ok("dispute", "list")
    onett.ok("dispute", "answer", str(dispute.id), "--message", "확인 중입니다", "--by", "ops")
    code, out = onett.cli("dispute", "resolve", str(dispute.id), "--message", "x", "--adjust", "12.5")
    assert code == 1 and "0 decimal places" in out  # KRW has no minor unit
    onett.ok("dispute", "resolve", str(dispute.id), "--message", "두 편을 반영합니다", "--adjust", "1234", "--by", "ops")
    thread = onett.ok("dispute", "show", str(dispute.id))
    assert "adjustment of 1234 KRW" in thread and "확인 중입니다" in thread and "제 원고 두 편이 빠졌습니다" in thread
    code, out = onett.cli("dispute", "resolve", str(dispute.id), "--message", "again", "--adjust", "1")
    assert code == 1 and "already resolved" in out

    # A late upload makes the recomputation of September record its own adjustments; the dispute's is kept beside.
    onett.drop("alice", "a.jsonl", [{"id": f"a{i}", "text": t} for i, t in enumerate(texts[:5])], seoul(2026, 9, 2))
    onett.ok("ingest")
    onett.ok("close", "2026-09")
    onett.ok("close", "2026-09")  # twice: nothing doubles
    assert onett.query("SELECT * FROM payouts WHERE period = '2026-09-01' ORDER BY contributor_id") == published
    rows = onett.query("SELECT contributor_id, amount, source, dispute_id FROM payout_adjustments "
                       "WHERE period = '2026-09-01' ORDER BY source, contributor_id")
    decided = [r for r in rows if r[2] == "dispute"]
    assert decided == [("bob", Decimal("1234.000"), "dispute", dispute.id)]
    recomputed = {c: a for c, a, s, _ in rows if s == "recomputed"}
    assert recomputed["alice"] > 0 and recomputed["bob"] < 0 and sum(recomputed.values()) == 0

    onett.ok("close", "2026-10")
    october = {c: (a, adj) for c, a, adj in onett.query(
        "SELECT contributor_id, amount, adjustment FROM payouts WHERE period = '2026-10-01'")}
    assert october["bob"][1] == recomputed["bob"] + 1234
    assert october["alice"][1] == recomputed["alice"] and october["carol"][1] == recomputed.get("carol", 0)
    pool = onett.query("SELECT pool FROM payout_periods WHERE period = '2026-10-01'")[0][0]
    assert sum(a for a, _ in october.values()) == pool  # the pool itself still splits exactly
    assert onett.query("SELECT count(*) FROM payout_adjustments WHERE applied_in IS NULL")[0][0] == 0
    onett.ok("close", "2026-10")
    assert onett.query("SELECT count(*) FROM payout_adjustments WHERE source = 'dispute'")[0][0] == 1
    history = onett.ok("statement", "bob").split("of which adjustments")[1]
    assert f"{october['bob'][1]:,.0f}" in history, history


def test_a_dispute_resolved_with_no_change_moves_no_money(onett):
    texts = [d["text"] for d in corpus("ko_petitions", "petitions.jsonl.gz", limit=10)]
    onett.drop("bob", "b.jsonl", [{"id": f"b{i}", "text": t} for i, t in enumerate(texts)], seoul(2026, 9, 20))
    onett.revenue([(date(2026, 9, 1) + timedelta(n), 1, 1, 1, "1000") for n in range(61)])
    onett.ok("ingest")
    onett.ok("close", "2026-09")
    register = _register()
    dispute = register.open_dispute("bob", date(2026, 9, 1), "bob", "why this ratio?", _closed(onett))
    onett.ok("dispute", "resolve", str(dispute.id), "--message", "the ratio is all the tokens: 100%")
    onett.ok("close", "2026-10")
    assert onett.query("SELECT count(*) FROM payout_adjustments")[0][0] == 0
    assert onett.query("SELECT adjustment FROM payouts WHERE period = '2026-10-01'") == [(Decimal("0.000"),)]
    assert register.dispute(dispute.id).resolution == "no_change"
    assert "open" not in onett.ok("dispute", "list").split("\n")[0] or "no disputes" in onett.ok("dispute", "list")
