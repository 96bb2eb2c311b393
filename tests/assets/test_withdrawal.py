"""Withdrawal (issue 4, item 5), end to end through `onett ingest` / `onett close`: a file removed from the
landing zone stops earning from the month it is withdrawn in, closed months stay as they were, and the
withdrawn documents stay on record."""

from __future__ import annotations

import json
from datetime import date, timedelta, timezone

import pytest

from conftest import SEOUL, distinct_texts, seoul

PETITIONS = "ko_petitions", "petitions.jsonl.gz"
OCT_15 = seoul(2026, 10, 15, 12)
TABLES = ["documents", "token_funnel", "uploads", "pii_masks"]


def docs(texts: list[str], prefix: str) -> list[dict]:
    return [{"id": f"{prefix}{i}", "text": t} for i, t in enumerate(texts)]


def revenue(onett) -> None:
    onett.revenue([(date(2026, 9, 1) + timedelta(n), 10, 100, 50, "1000") for n in range(61)])


def snapshot(onett) -> dict:
    return {t: onett.query(f"SELECT * FROM {t} ORDER BY ALL") for t in TABLES}


@pytest.fixture
def clock(monkeypatch):
    """Pins the time an ingest run records a withdrawal at (in production: the time of the run)."""
    from onett_assets.assets import ingest

    def pin(when):
        monkeypatch.setattr(ingest, "observed_at", lambda: when.astimezone(timezone.utc))

    return pin


def test_withdrawn_file_stops_earning_from_its_month_and_closed_months_stay(onett, clock):
    texts = distinct_texts(*PETITIONS, 15)
    onett.drop("alice", "keep.jsonl", docs(texts[0:5], "k"), seoul(2026, 9, 3, 10))
    onett.drop("alice", "gone.jsonl", docs(texts[5:10], "g"), seoul(2026, 9, 4, 10))
    # bob copies the first document of alice's gone.jsonl: a duplicate while alice's file is in
    onett.drop("bob", "b.jsonl", docs(texts[10:15] + texts[5:6], "b"), seoul(2026, 9, 10, 10))
    revenue(onett)
    onett.ok("ingest")
    onett.ok("close", "2026-09")
    tokens = dict(onett.query("SELECT doc_id, tokens FROM documents"))
    keep, gone = sum(tokens[f"k{i}"] for i in range(5)), sum(tokens[f"g{i}"] for i in range(5))
    bob_own = sum(tokens[f"b{i}"] for i in range(5))
    assert onett.query("SELECT status FROM documents WHERE doc_id = 'b5'") == [("duplicate",)]
    september = onett.query("SELECT * FROM payouts WHERE period = '2026-09-01' ORDER BY ALL")
    ratios = onett.query("SELECT * FROM contribution_ratios WHERE period = '2026-09-01' ORDER BY ALL")
    assert {c: t for _, c, t, *_ in september} == {"alice": keep + gone, "bob": bob_own}

    # alice withdraws gone.jsonl on October 15th
    clock(OCT_15)
    (onett.landing / "alice" / "gone.jsonl").unlink()
    assert "alice" in onett.ok("ingest")

    # the submission and its documents stay on record, marked withdrawn at the time the platform saw it gone
    row = onett.query("SELECT status, withdrawn_at, notes FROM uploads WHERE file = 'gone.jsonl'")
    assert [(s, w) for s, w, _ in row] == [("withdrawn", OCT_15)] and "it was accepted" in row[0][2]
    assert onett.query("SELECT withdrawn_at FROM uploads WHERE file <> 'gone.jsonl' GROUP BY ALL") == [(None,)]
    kept = onett.query("SELECT doc_id, status, withdrawn_at FROM documents WHERE file = 'gone.jsonl' ORDER BY 1")
    assert kept == [(f"g{i}", "accepted", OCT_15) for i in range(5)]
    # bob's copy was a duplicate in September and earns from the withdrawal on
    copy = onett.query("SELECT status, earns_from, duplicate_of, reason FROM documents WHERE doc_id = 'b5'")[0]
    assert copy[:3] == ("accepted", OCT_15, "alice/gone.jsonl#1") and "withdrawn" in copy[3]

    # September was closed before: recomputing it changes nothing and records no adjustment
    assert "already closed" not in onett.ok("close", "2026-09")  # no adjustment to report
    assert onett.query("SELECT * FROM payouts WHERE period = '2026-09-01' ORDER BY ALL") == september
    assert onett.query("SELECT * FROM contribution_ratios WHERE period = '2026-09-01' ORDER BY ALL") == ratios
    assert onett.query("SELECT count(*) FROM payout_adjustments")[0][0] == 0

    # October: alice earns for keep.jsonl only, bob for his own documents and the copy
    onett.ok("close", "2026-10")
    october = dict(onett.query("SELECT contributor_id, tokens FROM payouts WHERE period = '2026-10-01'"))
    assert october == {"alice": keep, "bob": bob_own + tokens["b5"]}
    assert onett.query("SELECT sum(adjustment) FROM payouts WHERE period = '2026-10-01'")[0][0] == 0

    # the funnel: alice's September uploads, with the withdrawn file removed at the `withdrawn` stage
    funnel = dict(onett.query("SELECT stage, tokens FROM token_funnel WHERE contributor_id = 'alice'"))
    assert (funnel["reference_match"], funnel["withdrawn"], funnel["accepted"]) == (keep + gone, keep, keep)
    assert onett.query("SELECT tokens FROM token_funnel WHERE contributor_id = 'bob' AND stage = 'accepted'") == [
        (bob_own + tokens["b5"],)]

    # the statement lists the withdrawn file with its date and the tokens that stopped earning
    text = onett.ok("statement", "alice")
    assert "Withdrawn files" in text and "gone.jsonl" in text and "2026-10-15" in text
    statement = json.loads(onett.ok("statement", "alice", "--json"))
    assert [(w["file"], w["withdrawn_on"], w["docs"], w["tokens_stopped"]) for w in statement["withdrawn"]] == [
        ("gone.jsonl", "2026-10-15", 5, gone)]
    assert statement["contribution_tokens"] == keep
    assert {r["rule"]: r["tokens"] for r in statement["removed"]} == {"withdrawn": gone}
    reasons = json.loads(onett.ok("reasons", "alice", "--json"))
    assert sorted(r["doc_id"] for r in reasons if r["rule"] == "withdrawn") == [f"g{i}" for i in range(5)]

    # idempotent: nothing to do, and forcing the runs again (even later) changes nothing, withdrawal time included
    before = snapshot(onett)
    assert "nothing new or changed" in onett.ok("ingest")
    clock(seoul(2026, 11, 2))
    s = onett.session()
    from onett_assets.partitions import submission_key

    for contributor in ("alice", "bob"):
        assert s.run("ingest_submission", submission_key(contributor, date(2026, 9, 1))).success
    assert snapshot(onett) == before
    assert "nothing new or changed" in onett.ok("ingest")


def test_withdrawal_does_not_depend_on_processing_order(onett, clock):
    """The same uploads and withdrawal give the same documents, funnels and payouts whichever partition is
    processed first, before and after the withdrawal, and whether or not the others are processed again."""
    texts = distinct_texts(*PETITIONS, 4)
    shared = texts[0]
    uploads = {
        "amy": ("a.jsonl", docs([shared, texts[1]], "a"), seoul(2026, 9, 5)),
        "zed": ("z.jsonl", docs([shared, texts[2]], "z"), seoul(2026, 9, 7)),
        "kim": ("k.jsonl", docs([shared, texts[3]], "k"), seoul(2026, 10, 20)),  # after amy's withdrawal
    }
    partitions = {"amy": date(2026, 9, 1), "zed": date(2026, 9, 1), "kim": date(2026, 10, 1)}
    revenue(onett)

    def run(before: list[str], after: list[str]) -> tuple:
        from onett_assets.partitions import submission_key

        for contributor, upload in uploads.items():
            onett.drop(contributor, *upload)
        s = onett.session()
        s.instance.add_dynamic_partitions("contributors", sorted(uploads))
        clock(seoul(2026, 10, 1, 3))
        for contributor in before:
            assert s.run("ingest_submission", submission_key(contributor, partitions[contributor])).success
        assert s.run("close_period", "2026-09-01").success
        clock(OCT_15)
        (onett.landing / "amy" / "a.jsonl").unlink()
        for contributor in after:
            assert s.run("ingest_submission", submission_key(contributor, partitions[contributor])).success
        assert s.run("close_period", "2026-09-01").success
        assert s.run("close_period", "2026-10-01").success
        return (
            onett.query("""SELECT contributor_id, doc_id, status, duplicate_of, earns_from, withdrawn_at
                           FROM documents ORDER BY ALL"""),
            onett.query("SELECT contributor_id, period, stage, docs, tokens FROM token_funnel ORDER BY ALL"),
            onett.query("SELECT period, contributor_id, tokens, amount, adjustment FROM payouts ORDER BY ALL"),
            onett.query("SELECT * FROM payout_adjustments"),
        )

    forward = run(["amy", "zed", "kim"], ["amy", "zed", "kim"])
    onett.warehouse.unlink()
    backward = run(["kim", "zed", "amy"], ["kim", "zed", "amy"])
    assert forward == backward
    onett.warehouse.unlink()
    assert run(["zed", "kim", "amy"], ["amy"]) == forward  # only the changed partition runs again

    documents = {d: (s, dup, earns, gone) for _, d, s, dup, earns, gone in forward[0]}
    assert documents["a0"] == ("accepted", "", seoul(2026, 9, 5), OCT_15)
    assert documents["z0"] == ("accepted", "amy/a.jsonl#1", OCT_15, None)  # takes over from the withdrawal on
    assert documents["k0"][:2] == ("duplicate", "amy/a.jsonl#1")  # zed's copy is still in
    assert forward[3] == []  # September is not adjusted
    paid = {(p.month, c): t for p, c, t, _, _ in forward[2]}
    tokens = dict(onett.query("SELECT doc_id, tokens FROM documents"))
    assert paid[(9, "zed")] == tokens["z1"] and paid[(10, "zed")] == tokens["z0"] + tokens["z1"]
    assert paid[(9, "amy")] == tokens["a0"] + tokens["a1"] and (10, "amy") not in paid


def test_a_file_back_under_the_same_name_is_a_new_upload(onett, clock):
    """Removed then uploaded again, or rewritten in place within its month: the earlier version stays withdrawn,
    the new one is read as new and earns from when it arrived, never twice. Files that never had documents
    (rejected, symlinks) are simply forgotten when they disappear."""
    texts = distinct_texts(*PETITIONS, 7)
    onett.drop("alice", "a.jsonl", docs(texts[0:3], "a"), seoul(2026, 9, 3))
    onett.drop("bob", "b.jsonl", docs(texts[3:6], "b"), seoul(2026, 9, 5))
    onett.drop("bob", "scan.pdf", b"%PDF-1.4 binary", seoul(2026, 9, 5))
    (onett.landing / "bob" / "link.txt").symlink_to(onett.landing / "alice" / "a.jsonl")
    onett.ok("ingest")

    clock(seoul(2026, 10, 5))
    (onett.landing / "alice" / "a.jsonl").unlink()
    (onett.landing / "bob" / "scan.pdf").unlink()
    (onett.landing / "bob" / "link.txt").unlink()
    onett.ok("ingest")
    clock(seoul(2026, 10, 10))
    onett.drop("alice", "a.jsonl", docs(texts[0:3], "n"), seoul(2026, 10, 10))  # back, as a new upload
    onett.drop("bob", "b.jsonl", docs(texts[3:5] + texts[6:7], "r"), seoul(2026, 9, 20))  # rewritten in September
    onett.ok("ingest")
    assert "nothing new or changed" in onett.ok("ingest")

    files = onett.query("SELECT contributor_id, period, file, status, withdrawn_at FROM uploads ORDER BY ALL")
    assert files == [
        ("alice", date(2026, 9, 1), "a.jsonl", "withdrawn", seoul(2026, 10, 5)),
        ("alice", date(2026, 10, 1), "a.jsonl", "accepted", None),
        ("bob", date(2026, 9, 1), "b.jsonl", "accepted", None),
        ("bob", date(2026, 9, 1), "b.jsonl", "withdrawn", seoul(2026, 10, 10)),
    ]
    rows = {d: (s, earns, gone) for d, s, earns, gone in onett.query(
        "SELECT doc_id, status, earns_from, withdrawn_at FROM documents")}
    assert all(rows[f"a{i}"] == ("accepted", seoul(2026, 9, 3), seoul(2026, 10, 5)) for i in range(3))
    assert all(rows[f"n{i}"] == ("accepted", seoul(2026, 10, 10), None) for i in range(3))
    assert all(rows[f"b{i}"] == ("accepted", seoul(2026, 9, 5), seoul(2026, 10, 10)) for i in range(3))
    # the unchanged documents of the rewritten file earn from when the old version was seen gone; the new one
    # from its upload
    assert rows["r0"] == rows["r1"] == ("accepted", seoul(2026, 10, 10), None)
    assert rows["r2"] == ("accepted", seoul(2026, 9, 20), None)
    assert onett.query("""SELECT count(*) FROM (SELECT contributor_id, period, file, position, withdrawn_at, count(*) n
                          FROM documents GROUP BY ALL HAVING n > 1)""")[0][0] == 0

    from onett_domain.earning import accepted_tokens_through
    import duckdb

    tokens = dict(onett.query("SELECT doc_id, tokens FROM documents"))
    conn = duckdb.connect(str(onett.warehouse), read_only=True)
    try:
        september = accepted_tokens_through(conn, date(2026, 9, 1), SEOUL)
        october = accepted_tokens_through(conn, date(2026, 10, 1), SEOUL)
    finally:
        conn.close()
    assert september == {"alice": sum(tokens[f"a{i}"] for i in range(3)),
                         "bob": sum(tokens[f"b{i}"] for i in range(3)) + tokens["r2"]}
    assert october == {"alice": sum(tokens[f"n{i}"] for i in range(3)),
                       "bob": tokens["r0"] + tokens["r1"] + tokens["r2"]}
