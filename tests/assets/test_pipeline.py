"""End to end through `onett ingest` / `onett close`: the semantics the README promises."""

from __future__ import annotations

import csv
import io
import os
import unicodedata
from datetime import date, timedelta
from decimal import Decimal

from conftest import ROOT, distinct_texts, seoul

PETITIONS = "ko_petitions", "petitions.jsonl.gz"


def docs(texts: list[str], prefix: str = "d") -> list[dict]:
    return [{"id": f"{prefix}{i}", "text": t} for i, t in enumerate(texts)]


def daily(start: date, days: int, revenue: str) -> list[tuple]:
    return [(start + timedelta(n), 100, 1000, 500, revenue) for n in range(days)]


def test_two_months_copies_reference_and_exact_pool(onett):
    """Copies pay the first uploader only, reference text pays nothing, pools split exactly; T_i is cumulative."""
    texts = distinct_texts(*PETITIONS, 30)
    onett.drop("한빛출판사", "batch1.jsonl", docs(texts[:10], "h"), seoul(2026, 9, 3, 10))
    onett.drop("alice", "essays.jsonl", docs(texts[10:20], "a"), seoul(2026, 9, 10, 9))
    # bob copies two of 한빛출판사's documents a month later, and one reference text
    onett.drop("bob", "mine.jsonl", docs(texts[20:25] + texts[:2] + [texts[28]], "b"), seoul(2026, 10, 2, 12))
    onett.drop("alice", "more.jsonl", docs(texts[25:28], "a2"), seoul(2026, 10, 15, 9))
    onett.reference("public.jsonl", [{"id": "web-1", "text": texts[28]}])
    onett.revenue(daily(date(2026, 9, 1), 30, "1000.37") + daily(date(2026, 10, 1), 31, "2001.5"))

    onett.ok("ingest")
    onett.ok("close", "2026-09")
    out = onett.ok("close", "2026-10")
    assert "2026-10" in out and "bob" in out

    statuses = dict(onett.query(
        "SELECT doc_id, status FROM documents WHERE contributor_id = 'bob' ORDER BY doc_id"))
    assert statuses["b5"] == statuses["b6"] == "duplicate"
    assert statuses["b7"] == "reference"
    assert all(statuses[f"b{i}"] == "accepted" for i in range(5))
    reason = onett.query("SELECT reason, duplicate_of FROM documents WHERE doc_id = 'b5'")[0]
    assert "text already known" in reason[0] and reason[1] == "한빛출판사/batch1.jsonl#1"  # the operator's record
    assert "한빛" not in reason[0] and "contributor" not in reason[0]
    # What bob can read does not tell a copy of another contributor's text from the consumer's (no oracle).
    import json

    seen = {d["doc_id"]: d for d in json.loads(onett.ok("reasons", "bob", "--json"))}
    assert (seen["b5"]["status"], seen["b5"]["rule"], seen["b5"]["reason"]) == (
        seen["b7"]["status"], seen["b7"]["rule"], seen["b7"]["reason"]) == (
        "known_text", "known_text", "exact copy of text already known (submitted earlier, held by the data consumer, "
                                    "or public)")
    statement = json.loads(onett.ok("statement", "bob", "--json"))
    stages = [f["stage"] for f in statement["funnel"]]
    assert "known_text" in stages and not {"exact_dedup", "near_dedup", "reference_match"} & set(stages)
    assert {r["rule"] for r in statement["removed"]} == {"known_text"}

    for period, revenue in ((date(2026, 9, 1), Decimal("1000.37") * 30), (date(2026, 10, 1), Decimal("2001.5") * 31)):
        pool = (revenue * Decimal("0.3")).to_integral_value(rounding="ROUND_DOWN")  # KRW: no minor unit
        paid = onett.query("SELECT sum(amount) FROM payouts WHERE period = ?", [period])[0][0]
        assert paid == pool
        assert onett.query("SELECT pool FROM payout_periods WHERE period = ?", [period])[0][0] == pool

    tokens = dict(onett.query("SELECT contributor_id, tokens FROM payouts WHERE period = '2026-10-01'"))
    accepted = dict(onett.query(
        "SELECT contributor_id, sum(tokens) FROM documents WHERE status = 'accepted' GROUP BY 1"))
    assert tokens == accepted  # cumulative: September's tokens keep earning in October
    september = dict(onett.query("SELECT contributor_id, tokens FROM payouts WHERE period = '2026-09-01'"))
    assert set(september) == {"한빛출판사", "alice"} and september["alice"] < tokens["alice"]

    funnel = onett.query(
        "SELECT stage, docs FROM token_funnel WHERE contributor_id = 'bob' ORDER BY stage_order")
    assert funnel == [("raw", 8), ("normalized", 8), ("length", 8), ("language", 8), ("gopher_quality", 8),
                      ("gopher_repetition", 8), ("line_rules", 8), ("filler", 8), ("spam", 8), ("exact_dedup", 6),
                      ("near_dedup", 6), ("reference_match", 5), ("repeated_passages", 5), ("withdrawn", 5),
                      ("accepted", 5)]


def test_month_boundary_in_platform_time_zone(onett):
    """A file touched at 00:30 on October 1st in Seoul (still September in UTC) belongs to October."""
    onett.drop("carol", "late-night.txt", "서울의 시월 첫날 새벽에 올린 글입니다. 자정이 지난 뒤에 제출되었습니다.", seoul(2026, 10, 1, 0, 30))
    onett.drop("carol", "evening.txt", "구월 마지막 날 저녁에 올린 글입니다. 자정 전에 제출되었습니다.", seoul(2026, 9, 30, 23, 30))
    onett.ok("ingest")
    periods = dict(onett.query("SELECT file, period FROM uploads"))
    assert periods == {"late-night.txt": date(2026, 10, 1), "evening.txt": date(2026, 9, 1)}


def test_first_come_credit_does_not_depend_on_processing_order(onett):
    """The earliest submission keeps the credit whichever partition is processed first, late arrivals included."""
    shared = "함께 쓰는 문서는 가장 먼저 제출한 사람에게만 보상이 돌아갑니다. 나중에 올린 사본은 보상받지 못합니다."
    onett.drop("zed", "a.jsonl", docs([shared, "제드가 혼자 쓴 고유한 문서입니다. 다른 사람에게는 없습니다."], "z"), seoul(2026, 9, 5))
    onett.drop("amy", "a.jsonl", docs([shared], "a"), seoul(2026, 9, 5))  # same instant: tie -> contributor id
    onett.drop("kim", "b.jsonl", docs([shared], "k"), seoul(2026, 10, 1, 8))
    onett.revenue(daily(date(2026, 10, 1), 31, "333.33"))

    def run(order: list[tuple[str, date]]) -> tuple:
        s = onett.session()
        s.instance.add_dynamic_partitions("contributors", ["amy", "kim", "zed"])
        from onett_assets.partitions import submission_key

        for contributor, period in order:
            assert s.run("ingest_submission", submission_key(contributor, period)).success
        assert s.run("close_period", "2026-10-01").success
        return (
            onett.query("SELECT contributor_id, doc_id, status, duplicate_of FROM documents ORDER BY ALL"),
            onett.query("SELECT contributor_id, stage, docs, tokens FROM token_funnel ORDER BY ALL"),
            onett.query("SELECT contributor_id, tokens, amount FROM payouts ORDER BY ALL"),
        )

    forward = run([("amy", date(2026, 9, 1)), ("zed", date(2026, 9, 1)), ("kim", date(2026, 10, 1))])
    onett.warehouse.unlink()
    backward = run([("kim", date(2026, 10, 1)), ("zed", date(2026, 9, 1)), ("amy", date(2026, 9, 1))])
    assert forward == backward
    documents = {(c, d): (s, dup) for c, d, s, dup in forward[0]}
    assert documents[("amy", "a0")] == ("accepted", "")
    assert documents[("zed", "z0")] == ("duplicate", "amy/a.jsonl#1")
    assert documents[("kim", "k0")][0] == "duplicate"
    # the funnel rows of partitions whose credit moved were refreshed too
    assert ("zed", "accepted", 1) == next((c, s, d) for c, s, d, _ in forward[1] if c == "zed" and s == "accepted")


def test_pipelined_ingest_matches_one_run_per_partition(onett, monkeypatch):
    """With several partitions, `onett ingest` filters one partition while a second process reads the next and
    deduplicates the one before (the largest partition first, read by the CLI itself while the second process
    starts): the outcome must be exactly that of one `ingest_submission` run per partition, in order."""
    import onett_cli.runner as runner
    from dagster import RunsFilter

    texts = distinct_texts(*PETITIONS, 16)
    words = texts[0].split()
    near_copy = " ".join(words[:5] + words[6:])  # one word dropped
    files = {
        "amy|2026-09-01": onett.drop("amy", "a.jsonl", docs(texts[:6], "a"), seoul(2026, 9, 3)),
        "bob|2026-09-01": onett.drop("bob", "b.jsonl", docs(texts[4:10] + [near_copy], "b"), seoul(2026, 9, 5)),
        "cat|2026-10-01": onett.drop("cat", "c.jsonl", docs(texts[9:14] + texts[1:2], "c"), seoul(2026, 10, 1, 9)),
        "amy|2026-10-01": onett.drop("amy", "late.jsonl", docs(texts[12:16], "l"), seoul(2026, 10, 2)),
    }
    monkeypatch.setattr(runner, "PIPELINE_MIN_BYTES", 0)
    # the two largest partitions are split over the two processes, the others run whole
    threshold = sorted(f.stat().st_size for f in files.values())[-2]
    monkeypatch.setattr(runner, "SPLIT_MIN_BYTES", threshold)
    largest, second = sorted((key for key, f in files.items() if f.stat().st_size >= threshold),
                             key=lambda key: -files[key].stat().st_size)
    monkeypatch.setenv("ONETT_WORKERS", "2")
    out = onett.ok("ingest")
    assert out.count(" ok") == 4, out
    contributor, day = largest.split("|")
    assert f"[1/4] {contributor} {day[:7]}:" in out, out  # the largest goes first
    instance = onett.session().instance
    here = str(os.getpid())

    def ran(job: str) -> dict[str, str]:
        return {r.tags["dagster/partition"]: r.tags["onett/pid"] for r in instance.get_runs(RunsFilter(job_name=job))}

    assert ran("read_submission") == {largest: here, second: ran("read_submission")[second]}
    assert ran("read_submission")[second] != here  # the second process reads the next while this one filters
    assert set(ran("filter_submission").values()) == {here}
    credits = ran("credit_submission")
    assert sorted(credits) == sorted([largest, second]) and here not in credits.values()
    assert len(instance.get_runs(RunsFilter(job_name="ingest_submission"))) == 2
    tables = ["documents", "token_funnel", "uploads", "pii_masks", "near_pairs"]
    pipelined = {t: onett.query(f"SELECT * FROM {t} ORDER BY ALL") for t in tables}
    assert dict(onett.query("SELECT doc_id, status FROM documents WHERE contributor_id = 'bob'"))["b6"] == "near_duplicate"

    onett.warehouse.unlink()
    s = onett.session()
    from onett_assets.partitions import submission_key

    for period, contributor in sorted({(date(2026, 9, 1), "amy"), (date(2026, 9, 1), "bob"),
                                       (date(2026, 10, 1), "cat"), (date(2026, 10, 1), "amy")}):
        assert s.run("ingest_submission", submission_key(contributor, period)).success
    assert {t: onett.query(f"SELECT * FROM {t} ORDER BY ALL") for t in tables} == pipelined


def test_rerun_is_idempotent_and_change_is_detected(onett):
    """Same inputs: nothing to do, and forcing a re-run changes nothing; a withdrawn file passes credit on."""
    texts = distinct_texts(*PETITIONS, 12)
    onett.drop("first", "f.jsonl", docs(texts[:6]), seoul(2026, 9, 2))
    onett.drop("second", "s.jsonl", docs(texts[:3] + texts[6:9]), seoul(2026, 9, 20))
    onett.revenue(daily(date(2026, 9, 1), 30, "12345"))
    onett.ok("ingest")
    onett.ok("close", "2026-09")
    tables = ["documents", "token_funnel", "uploads", "contribution_ratios", "payouts"]
    before = {t: onett.query(f"SELECT * FROM {t} ORDER BY ALL") for t in tables}

    assert "nothing new or changed" in onett.ok("ingest")
    s = onett.session()
    from onett_assets.partitions import submission_key

    for c in ("first", "second"):
        assert s.run("ingest_submission", submission_key(c, date(2026, 9, 1))).success
    onett.ok("close", "2026-09")
    after = {t: onett.query(f"SELECT * FROM {t} ORDER BY ALL") for t in tables}
    assert before == after

    # the first uploader withdraws the file: the second one's copies now earn (from the withdrawal on; the
    # withdrawn documents stay on record, see test_withdrawal.py)
    (onett.landing / "first" / "f.jsonl").unlink()
    out = onett.ok("ingest")
    assert "first" in out
    assert onett.query("SELECT count(*), count(withdrawn_at) FROM documents WHERE contributor_id = 'first'")[0] == (6, 6)
    assert onett.query("SELECT count(*) FROM documents WHERE contributor_id = 'second' AND status = 'accepted'")[0][0] == 6


def test_korean_folder_names_are_normalized(onett):
    """A folder name written decomposed (as macOS does) is the same contributor as its NFC form."""
    name = "한빛출판사"
    onett.drop(unicodedata.normalize("NFD", name), "a.txt", "한글 자모로 분해된 폴더 이름도 같은 기여자로 인식되어야 합니다.", seoul(2026, 9, 1, 12))
    onett.ok("ingest")
    assert onett.query("SELECT DISTINCT contributor_id FROM documents") == [(name,)]
    out = onett.ok("statement", name)
    assert "Contribution token count" in out


def test_bad_files_are_recorded_and_do_not_stop_the_rest(onett):
    """A broken line skips that record only; an unreadable file is rejected with a reason; good files still count."""
    good = "정상적인 문서입니다. 이 문서는 끝까지 읽혀서 보상을 받아야 합니다."
    onett.drop("dana", "mixed.jsonl", '{"text": "%s"}\n{"text": broken\n{"id": 3}\n' % good, seoul(2026, 9, 4))
    onett.drop("dana", "scan.pdf", b"%PDF-1.4 binary", seoul(2026, 9, 4))
    onett.drop("dana", "legacy.txt", "옛날 인코딩(CP949)으로 저장된 문서도 올바르게 읽혀서 보상을 받아야 합니다.".encode("cp949"),
               seoul(2026, 9, 4))
    onett.drop("dana", "photo.txt", b"\x89PNG\r\n\x1a\n" + bytes(300), seoul(2026, 9, 4))
    table = io.StringIO()
    csv.writer(table).writerows([["id", "text"]] + list(enumerate(distinct_texts("ko_court_precedents", "precedents.jsonl.gz", 3))))
    onett.drop("dana", "export.csv", table.getvalue(), seoul(2026, 9, 4))
    onett.drop("dana", "empty.jsonl", "", seoul(2026, 9, 4))
    onett.ok("ingest")
    rows = {f: (s, e, n, k) for f, s, e, n, k in onett.query(
        "SELECT file, status, error, docs_read, docs_skipped FROM uploads WHERE contributor_id = 'dana'")}
    assert rows["mixed.jsonl"][0] == "partially accepted" and rows["mixed.jsonl"][2:] == (1, 2)
    assert "line 2" in rows["mixed.jsonl"][1] and "line 3" in rows["mixed.jsonl"][1]
    assert rows["scan.pdf"][0] == "rejected" and rows["scan.pdf"][1].startswith("scan.pdf: corrupt or truncated PDF")
    assert rows["legacy.txt"][0] == "accepted"
    assert onett.query("SELECT notes FROM uploads WHERE file = 'legacy.txt'")[0][0] == "legacy.txt: read as cp949"
    assert rows["photo.txt"][0] == "rejected" and "PNG image" in rows["photo.txt"][1]
    assert rows["export.csv"][0] == "accepted" and rows["export.csv"][2] == 3
    assert rows["empty.jsonl"][0] == "rejected" and "no documents" in rows["empty.jsonl"][1]
    accepted = onett.query("SELECT file FROM documents WHERE contributor_id = 'dana' AND status = 'accepted' ORDER BY ALL")
    assert accepted == [("export.csv",)] * 3 + [("legacy.txt",), ("mixed.jsonl",)]


def test_same_uploads_in_another_arrival_order_give_identical_payouts(onett):
    """Uploads landing one by one (ingest after each) in two different sequences end in the same payouts."""
    import shutil

    texts = distinct_texts(*PETITIONS, 16)
    uploads = [
        ("가나출판", "a.jsonl", docs(texts[:6], "g"), seoul(2026, 9, 30, 23, 50)),
        ("bob", "b.jsonl", docs(texts[4:10], "b"), seoul(2026, 10, 1, 0, 10)),  # copies two of 가나출판's
        ("carol", "c.jsonl", docs(texts[9:14], "c"), seoul(2026, 10, 20)),  # copies one of bob's
        ("bob", "late.jsonl", docs(texts[14:16] + texts[:1], "l"), seoul(2026, 9, 12)),  # earlier than 가나출판's
    ]
    onett.reference("ref.jsonl", [{"id": "r", "text": texts[13]}])
    onett.revenue(daily(date(2026, 9, 1), 30, "777.77") + daily(date(2026, 10, 1), 31, "1234.5"))

    def play(order: list[int]) -> list:
        for i in order:
            onett.drop(*uploads[i])
            onett.ok("ingest")
        onett.ok("close", "2026-09")
        onett.ok("close", "2026-10")
        return onett.query("SELECT period, contributor_id, tokens, amount FROM payouts ORDER BY ALL")

    first = play([0, 1, 2, 3])
    shutil.rmtree(onett.home)
    onett.home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", onett.home / "dagster.yaml")
    onett.reference("ref.jsonl", [{"id": "r", "text": texts[13]}])
    onett.revenue(daily(date(2026, 9, 1), 30, "777.77") + daily(date(2026, 10, 1), 31, "1234.5"))
    second = play([3, 2, 1, 0])
    assert first == second
    paid = {(p.month, c): t for p, c, t, _ in first}
    assert paid[(9, "bob")] > 0 and (9, "carol") not in paid


def test_after_the_largest_the_partitions_read_ahead_are_filtered_most_documents_first():
    """The partition filtered last is credited on its own after all the filtering: it should be the one with the
    fewest documents among those read ahead. Unread ones wait in size order; small ones (run whole) come last."""
    from onett_assets.partitions import submission_key
    from onett_cli.runner import next_to_filter
    from onett_domain.planning import PendingSubmission

    def partition(name: str) -> PendingSubmission:
        return PendingSubmission(name, date(2026, 9, 1), "", [])

    largest, big, wide, small = (partition(n) for n in ("largest", "big", "wide", "small"))
    waiting = [largest, big, wide, small]  # by size, as the runner has them
    def key(name: str) -> str:
        return str(submission_key(name, date(2026, 9, 1)))

    assert next_to_filter(waiting, largest, {key("big"): 5, key("wide"): 900}) is largest
    order, read = [], {key("big"): 120, key("wide"): 40_000}
    waiting.remove(largest)
    while waiting:
        chosen = next_to_filter(waiting, largest, read)
        waiting.remove(chosen)
        order.append(chosen.contributor_id)
    assert order == ["wide", "big", "small"]
    assert next_to_filter([big, wide, small], largest, {}) is big  # nothing read yet: the next in size order
