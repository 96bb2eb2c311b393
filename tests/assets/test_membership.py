"""1T Club membership end to end: words counted as releases count them, the threshold, applications decided by an
operator, and a revenue share paid to members only when the consumer chooses so."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import polars as pl

from conftest import distinct_texts, seoul

PETITIONS = "ko_petitions", "petitions.jsonl.gz"


def test_words_threshold_applications_and_a_share_for_members_only(onett, monkeypatch):
    texts = distinct_texts(*PETITIONS, 10)
    onett.drop("alice", "a.jsonl", [{"id": f"a{i}", "text": t} for i, t in enumerate(texts[:8])],
               seoul(2026, 9, 3, 10))
    onett.drop("bob", "b.jsonl", [{"id": f"b{i}", "text": t} for i, t in enumerate(texts[8:])], seoul(2026, 9, 4, 10))
    onett.revenue([(date(2026, 9, 1) + timedelta(n), 10, 100, 50, "1000.5") for n in range(30)])
    onett.ok("ingest")
    onett.ok("close", "2026-09")
    # words are whitespace-separated units of the credited text, exactly as the release counts them
    shards = sorted((onett.home / "data" / "releases" / "2026-09-r1").glob("shard-*.parquet"))
    released = pl.concat([pl.read_parquet(p) for p in shards])
    by_hand = {c: sum(len(t.split()) for t in g["text"]) for (c,), g in released.group_by("contributor_id")}
    stored = dict(onett.query("SELECT contributor_id, sum(words) FROM documents WHERE status = 'accepted' GROUP BY 1"))
    assert stored == by_hand == dict(released.group_by("contributor_id").agg(pl.col("words").sum()).iter_rows())
    manifest = json.loads((onett.home / "data" / "releases" / "2026-09-r1" / "manifest.json").read_text())
    assert {c["contributor_id"]: c["words"] for c in manifest["contributors"]} == by_hand

    threshold = (by_hand["alice"] + by_hand["bob"]) // 2  # alice above it, bob below
    assert by_hand["bob"] < threshold < by_hand["alice"]
    monkeypatch.setenv("ONETT_MEMBERSHIP_WORDS", str(threshold))
    statement = json.loads(onett.ok("statement", "bob", "--json"))
    assert statement["membership"] == {"words": by_hand["bob"], "threshold": threshold, "eligible": False,
                                       "progress": round(by_hand["bob"] / threshold, 6), "uncounted_documents": 0,
                                       "share_requires_membership": False}
    code, out = onett.cli("membership", "apply", "bob", "--by", "bob")
    assert code == 1 and f"more than {threshold:,} words" in out
    assert "waiting for an operator" in onett.ok("membership", "apply", "alice", "--message", "we publish", "--by",
                                                 "alice")
    code, out = onett.cli("membership", "apply", "alice", "--by", "alice")
    assert code == 1 and "pending" in out
    code, out = onett.cli("membership", "approve", "1", "--reason", "", "--by", "ops")
    assert code == 1 and "reason" in out
    onett.ok("membership", "approve", "1", "--reason", "contract signed", "--by", "ops")
    assert "member since" in onett.ok("statement", "alice") and "(approved by ops)" in onett.ok("statement", "alice")
    listing = onett.ok("membership")
    assert "alice" in listing and "member" in listing

    # documents read before words were counted get them back from their Parquet parts
    conn = duckdb.connect(str(onett.warehouse))
    conn.execute("UPDATE documents SET words = NULL WHERE contributor_id = 'alice'")
    conn.close()
    assert json.loads(onett.ok("statement", "alice", "--json"))["membership"]["uncounted_documents"] == 8
    assert onett.session().run("count_membership").success
    assert dict(onett.query("SELECT contributor_id, sum(words) FROM documents WHERE status = 'accepted' "
                            "GROUP BY 1")) == by_hand

    # the consumer pays the share to members only: October goes to alice alone, to the last won
    monkeypatch.setenv("ONETT_SHARE_REQUIRES_MEMBERSHIP", "1")
    onett.revenue([(date(2026, 9, 1) + timedelta(n), 10, 100, 50, "1000.5") for n in range(61)])
    onett.ok("ingest")
    onett.ok("close", "2026-10")
    october = onett.query("SELECT contributor_id, amount FROM payouts WHERE period = '2026-10-01'")
    (pool,), = onett.query("SELECT pool FROM payout_periods WHERE period = '2026-10-01'")
    assert [c for c, _ in october] == ["alice"] and october[0][1] == pool == Decimal("9304")  # 31 x 1000.5 x 0.3
    # September was closed before the choice: it stays as paid
    assert {c for (c,) in onett.query("SELECT contributor_id FROM payouts WHERE period = '2026-09-01'")} == {
        "alice", "bob"}
