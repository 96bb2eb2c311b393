"""The recitation card: the demo's model outputs checked by the daily asset, each contributor sees how often their
own text was recited this month with the spans, never another's; the operator sees every contributor's count."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import duckdb

from portal.conftest import PUBLISHER, onett_cli


def _publisher_excerpt(home) -> str:
    """About 120 characters from the middle of one of the publisher's earning documents (from the release store's
    source: the filtered parts), long enough to be a recitation."""
    import polars as pl

    conn = duckdb.connect(str(home / "onett.duckdb"), read_only=True)
    try:
        (content_hash,), = conn.execute(
            "SELECT content_hash FROM documents WHERE contributor_id = ? AND status = 'accepted' "
            "AND withdrawn_at IS NULL AND tokens > 300 ORDER BY file, position LIMIT 1", [PUBLISHER]).fetchall()
    finally:
        conn.close()
    parts = sorted((home / "data" / "filtered").rglob("docs-*.parquet"))
    frame = pl.concat([pl.read_parquet(p, columns=["content_hash", "text"]) for p in parts])
    text = frame.filter(pl.col("content_hash") == content_hash)["text"][0]
    line = max(text.split("\n"), key=len)
    return line[len(line) // 4: len(line) // 4 + 160]


def test_each_contributor_sees_their_own_recitations(home, browser):
    now = datetime.now(timezone.utc)
    logs = home / "output_logs"
    logs.mkdir()
    recited = _publisher_excerpt(home)
    lines = [{"timestamp": now.isoformat(), "request_id": "req-recites", "output": "답변: " + recited},
             {"timestamp": now.isoformat(), "request_id": "req-fresh", "output": "오늘은 맑고 바람이 조금 붑니다. " * 5}]
    (logs / "today.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    out = onett_cli(home, "recitations").stdout
    assert "1 recite contributed text" in out, out

    alice = browser("alice")
    page = alice.get("/").text
    assert 'data-recited="1"' in page and "req-recites" in page
    bob = browser("bob")
    page = bob.get("/").text
    assert 'data-recited="0"' in page and "req-recites" not in page
    ops = browser("ops")
    page = ops.get("/operator").text
    assert 'id="recitations-by-contributor"' in page and PUBLISHER in page
