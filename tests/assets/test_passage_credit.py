"""Passage-level credit on real court decisions: text cut out of earlier documents, merged from several, or padded
around new text earns only for what is new; honest prose keeps its tokens; the outcome does not depend on the
order uploads arrive in, and a withdrawal hands passages on from its time."""

from __future__ import annotations

import shutil
from datetime import date, timedelta

from conftest import ROOT, distinct_texts, seoul
from onett_text.tokens import count_tokens

COURT = "ko_court_precedents", "precedents.jsonl.gz"


def docs(texts: list[str], prefix: str) -> list[dict]:
    return [{"id": f"{prefix}{i}", "text": t} for i, t in enumerate(texts)]


def daily(start: date, days: int, revenue: str) -> list[tuple]:
    return [(start + timedelta(n), 100, 1000, 500, revenue) for n in range(days)]


def pieces(text: str, parts: int) -> list[str]:
    """The text cut at line ends into `parts` runs of lines of about equal length."""
    lines = text.split("\n")
    size, chunks, current = len(text) / parts, [], []
    for line in lines:
        current.append(line)
        if sum(len(x) + 1 for x in current) >= size and len(chunks) < parts - 1:
            chunks.append("\n".join(current))
            current = []
    return chunks + (["\n".join(current)] if current else [])


def paragraph(text: str) -> str:
    """The text's longest line: a paragraph of a court decision, a few percent of it."""
    return max(text.split("\n"), key=len)


def tokens(texts: list[str]) -> int:
    return sum(count_tokens(texts, "cl100k_base"))


def credited(onett, contributor: str) -> tuple[int, int]:
    """(tokens of the contributor's accepted documents, tokens they are credited with)."""
    (whole, paid), = onett.query(
        "SELECT coalesce(sum(tokens), 0), coalesce(sum(tokens - repeated_tokens), 0) FROM documents "
        "WHERE contributor_id = ? AND status = 'accepted' AND withdrawn_at IS NULL", [contributor])
    return int(whole), int(paid)


def test_copied_passages_earn_nothing_and_new_text_earns(onett):
    texts = distinct_texts(*COURT, 60, limit=600)
    original, fresh = texts[:40], texts[40:60]
    onett.drop("amy", "decisions.jsonl", docs(original, "a"), seoul(2026, 9, 3, 10))
    # cut: each of ten decisions in three pieces at line ends; merged: three decisions run together, four times
    cut = [p for text in original[:10] for p in pieces(text, 3)]
    merged = ["\n".join(original[10 + 3 * i: 13 + 3 * i]) for i in range(4)]
    # padded: a new decision with two paragraphs of an earlier one before it and one after
    padded, copied_paragraphs = [], []
    for i, text in enumerate(fresh[:10]):
        head, *_, tail = pieces(original[22 + i], 4)
        padded.append("\n".join([head, text, tail]))
        copied_paragraphs += [head, tail]
    onett.drop("cutter", "pieces.jsonl", docs(cut, "c"), seoul(2026, 10, 2, 9))
    onett.drop("merger", "merged.jsonl", docs(merged, "m"), seoul(2026, 10, 3, 9))
    onett.drop("padder", "padded.jsonl", docs(padded, "p"), seoul(2026, 10, 4, 9))
    onett.drop("honest", "new.jsonl", docs(fresh[10:], "h"), seoul(2026, 10, 5, 9))
    onett.ok("ingest")

    # Honest prose keeps at least 97% of its tokens (court decisions share some boilerplate sentences).
    whole, paid = credited(onett, "amy")
    assert paid >= 0.97 * whole, (paid, whole)
    whole, paid = credited(onett, "honest")
    assert paid >= 0.97 * whole, (paid, whole)
    # Pieces and merges of earlier documents earn at most 5% of the copied tokens. Whole-document dedup removes
    # some of them (a merge dominated by one long decision is a near copy of it); the rest pass as new documents
    # and only passage credit stops them.
    whole, paid = credited(onett, "cutter")
    assert whole >= 0.5 * tokens(cut) and paid <= 0.05 * tokens(cut), (paid, whole)
    whole, paid = credited(onett, "merger")
    assert whole > 0 and paid <= 0.05 * tokens(merged), (paid, whole)
    # Padding: the new text earns, the copied paragraphs at most 5% of their tokens.
    new, copied = tokens(fresh[:10]), tokens(copied_paragraphs)
    whole, paid = credited(onett, "padder")
    assert 0.97 * new <= paid <= new + 0.05 * copied, (paid, new, copied)

    # Every accepted document with repeated passages says so, naming no contributor.
    reasons = onett.query("SELECT DISTINCT passage_reason FROM documents WHERE repeated_tokens > 0")
    assert reasons and all("passages already contributed earlier (e.g. passage" in r for (r,) in reasons)
    assert not any("amy" in r for (r,) in reasons)
    # The funnel has the stage, and its accepted stage is what the contributor is credited with.
    funnel = dict(onett.query("SELECT stage, tokens FROM token_funnel WHERE contributor_id = 'cutter'"))
    assert funnel["repeated_passages"] == funnel["accepted"] == credited(onett, "cutter")[1]
    assert funnel["reference_match"] == credited(onett, "cutter")[0]
    code, out = onett.cli("verify")
    assert code == 0, out


def test_passage_credit_does_not_depend_on_arrival_order(onett):
    """Uploads landing one by one in two sequences (an earlier upload processed last) end in the same documents,
    funnels and payouts, to the minor unit."""
    texts = distinct_texts(*COURT, 16, limit=300)
    uploads = [
        ("amy", "a.jsonl", docs(texts[:6], "a"), seoul(2026, 9, 20, 10)),
        ("bob", "b.jsonl", docs([p for t in texts[:3] for p in pieces(t, 2)] + texts[6:9], "b"),
         seoul(2026, 10, 2, 9)),
        ("carol", "c.jsonl", docs(["\n".join([pieces(texts[4], 3)[0], texts[9], pieces(texts[7], 3)[1]])]
                                  + texts[10:12], "c"), seoul(2026, 10, 9, 9)),
        ("dan", "d.jsonl", docs(["\n".join([texts[14], paragraph(texts[5])])] + texts[12:14], "d"),
         seoul(2026, 9, 1, 9)),  # the earliest
    ]
    onett.reference("ref.jsonl", [{"id": "r", "text": paragraph(texts[13])}])

    def play(order: list[int]) -> tuple:
        for i in order:
            onett.drop(*uploads[i])
            onett.ok("ingest")
        onett.revenue(daily(date(2026, 9, 1), 30, "777.77") + daily(date(2026, 10, 1), 31, "1234.5"))
        onett.ok("close", "2026-09")
        onett.ok("close", "2026-10")
        return (onett.query("SELECT contributor_id, doc_id, status, tokens, repeated_tokens, passage_reason "
                            "FROM documents ORDER BY ALL"),
                onett.query("SELECT contributor_id, period, stage, docs, tokens FROM token_funnel ORDER BY ALL"),
                onett.query("SELECT period, contributor_id, tokens, amount FROM payouts ORDER BY ALL"))

    first = play([0, 1, 2, 3])
    shutil.rmtree(onett.home)
    onett.home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", onett.home / "dagster.yaml")
    onett.reference("ref.jsonl", [{"id": "r", "text": paragraph(texts[13])}])
    second = play([3, 2, 1, 0])
    assert first == second
    repeated = {}
    for contributor, _, status, _, r, _ in first[0]:
        if status == "accepted":
            repeated[contributor] = repeated.get(contributor, 0) + r
    # bob's pieces and carol's padding repeat amy's text; amy's decision repeats dan's earlier piece of it, and
    # dan's repeats the reference corpus
    assert all(repeated[c] > 0 for c in ("amy", "bob", "carol", "dan")), repeated


def test_withdrawal_hands_passages_on_from_its_time(onett):
    """Pieces of a withdrawn upload's documents earn from the withdrawal on: now, not in the months before it."""
    texts = distinct_texts(*COURT, 6, limit=200)
    onett.drop("amy", "a.jsonl", docs(texts[:3], "a"), seoul(2026, 9, 3, 10))
    cut = [p for t in texts[:3] for p in pieces(t, 3)]
    onett.drop("bob", "b.jsonl", docs(cut, "b"), seoul(2026, 9, 10, 10))
    onett.ok("ingest")
    whole, paid = credited(onett, "bob")
    assert whole > 0 and paid <= 0.05 * whole
    (onett.landing / "amy" / "a.jsonl").unlink()
    onett.ok("ingest")
    # credited now: pieces that were near copies of amy's documents are accepted from then on too
    now_whole, now_paid = credited(onett, "bob")
    assert now_whole > whole and now_paid >= 0.95 * now_whole, (now_paid, now_whole)
    (handed, at), = onett.query("SELECT sum(handed_on_tokens), max(handed_on_at) FROM documents "
                                "WHERE contributor_id = 'bob' AND status = 'accepted'")
    (withdrawn,), = onett.query("SELECT max(withdrawn_at) FROM uploads WHERE contributor_id = 'amy'")
    assert handed >= 0.9 * whole and at == withdrawn
    # September ended before the withdrawal: bob is paid for it only for what was new then
    onett.revenue(daily(date(2026, 9, 1), 30, "100.00"))
    onett.ok("close", "2026-09")
    september = dict(onett.query("SELECT contributor_id, tokens FROM payouts WHERE period = '2026-09-01'"))
    assert september.get("bob", 0) <= 0.05 * whole
    assert september["amy"] > 0  # amy earned until she withdrew
