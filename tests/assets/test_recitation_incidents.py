"""The recitation guard over the consumer's output logs, on real court decisions: a span copied from a
contributed decision is found and charged to its contributor only; fresh text is not; unreadable lines are listed
without stopping the day; a withdrawn upload's text leaves the index with the next ingest."""

from __future__ import annotations

import json
import os
from datetime import date

from conftest import distinct_texts, seoul
from onett_text.passages import encode

COURT = "ko_court_precedents", "precedents.jsonl.gz"
DAY = date(2026, 10, 5)


def docs(texts: list[str], prefix: str) -> list[dict]:
    return [{"id": f"{prefix}{i}", "text": t} for i, t in enumerate(texts)]


def excerpt(text: str, tokens: int = 90) -> str:
    """About `tokens` tokens from the middle of the text's longest line."""
    line = max(text.split("\n"), key=len)
    ids = encode(line, "cl100k_base")
    assert len(ids) > tokens + 20
    start = len(line) // 4
    chars = len(line) * tokens // len(ids)
    return line[start:start + chars]


def test_recitations_are_found_and_charged_to_their_contributor_only(onett, monkeypatch):
    texts = distinct_texts(*COURT, 8, limit=300)
    onett.drop("amy", "a.jsonl", docs(texts[:4], "a"), seoul(2026, 9, 3, 10))
    onett.drop("bob", "b.jsonl", docs(texts[4:8], "b"), seoul(2026, 9, 4, 10))
    out = onett.ok("ingest")
    assert "recitation index:" in out

    logs = onett.home / "output_logs"
    logs.mkdir()
    # Korean prose nobody contributed (another decision would not do: decisions quote the same precedents verbatim)
    fresh = "\n".join(distinct_texts("ko_petitions", "petitions.jsonl.gz", 3))[:2000]
    lines = [
        {"timestamp": "2026-10-05T10:00:00+09:00", "request_id": "r-amy",
         "output": "모델의 답변입니다. " + excerpt(texts[1]) + " 이상입니다."},
        {"timestamp": "2026-10-05T11:00:00+09:00", "request_id": "r-bob", "output": excerpt(texts[6]) + "\n끝."},
        {"timestamp": "2026-10-05T12:00:00+09:00", "request_id": "r-fresh", "output": fresh},
        {"timestamp": "2026-10-05T13:00:00+09:00", "request_id": "r-short",  # 30 tokens: shorter than N
         "output": "짧은 인용: " + excerpt(texts[2], 30)},
        {"timestamp": "2026-10-06T01:00:00+09:00", "request_id": "r-next-day", "output": excerpt(texts[1])},
    ]
    body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines) + "{not json\n"
    (logs / "outputs.jsonl").write_text(body, encoding="utf-8")
    out = onett.ok("recitations", DAY.isoformat())
    assert "5 outputs" not in out and "4 outputs checked, 2 recite contributed text" in out, out
    assert "outputs.jsonl:6: not JSON" in out

    rows = onett.query("SELECT request_id, contributor_id, file, tokens, span_start, span_end FROM "
                       "recitation_incidents ORDER BY ALL")
    assert {(r, c) for r, c, *_ in rows} == {("r-amy", "amy"), ("r-bob", "bob")}
    for request_id, contributor, file, tokens, start, end in rows:
        assert file == ("a.jsonl" if contributor == "amy" else "b.jsonl")
        assert tokens >= 50 and end > start
    (amy_start, amy_end), = [(s, e) for r, c, _, _, s, e in rows if r == "r-amy"]
    recited = lines[0]["output"][amy_start:amy_end]
    assert recited in texts[1] and len(recited) >= 0.8 * len(excerpt(texts[1]))

    # the same day checked again gives the same rows
    onett.ok("recitations", DAY.isoformat())
    assert onett.query("SELECT request_id, contributor_id, file, tokens, span_start, span_end FROM "
                       "recitation_incidents ORDER BY ALL") == rows

    # amy withdraws her file: her text leaves the index with the next ingest, and the day no longer charges her
    os.remove(onett.landing / "amy" / "a.jsonl")
    onett.ok("ingest")
    onett.ok("recitations", DAY.isoformat())
    assert {c for (c,) in onett.query("SELECT contributor_id FROM recitation_incidents")} == {"bob"}
    # the index was updated, not rebuilt, and holds amy's text in no file: its one generation holds bob's alone
    from dagster import AssetKey

    from onett_text.recitation import RecitationIndex

    event = onett.session().instance.get_latest_materialization_event(AssetKey("recitation_index"))
    assert event.asset_materialization.metadata["how"].value == "updated"
    assert event.asset_materialization.metadata["texts removed"].value >= 1
    guard = RecitationIndex.load(onett.home / "data" / "recitation-index")
    assert guard.find(encode(excerpt(texts[1]), "cl100k_base")) == []
    assert guard.find(encode(excerpt(texts[6]), "cl100k_base"))
    assert len([p for p in (onett.home / "data").iterdir() if p.name.startswith(".recitation-index.")]) == 1
