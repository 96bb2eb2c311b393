"""The uploads both scale-out tests process twice (embedded, then scaled out) and the tables they compare."""

from __future__ import annotations

from datetime import date, timedelta

import conftest
from conftest import seoul

PETITIONS = "ko_petitions", "petitions.jsonl.gz"
# What the two set-ups must agree on, row for row (timestamps of closing excluded).
TABLES = {
    "uploads": "SELECT * FROM uploads",
    "documents": "SELECT * FROM documents",
    "token_funnel": "SELECT * FROM token_funnel",
    "pii_masks": "SELECT * FROM pii_masks",
    # text ids follow the order partitions were indexed in, which differs: compared through the content hash
    "minhash_texts": "SELECT content_hash, signature FROM minhash_texts",
    "near_index_buckets": "SELECT t.content_hash, b.bucket FROM near_index_buckets b JOIN minhash_texts t USING (text_id)",
    "near_pairs": "SELECT * FROM near_pairs",
    "passage_texts": "SELECT content_hash, passages FROM passage_texts",
    "passages": "SELECT t.content_hash, p.* EXCLUDE (text_id) FROM passages p JOIN passage_texts t USING (text_id)",
    "reference_documents": "SELECT * FROM reference_documents",
    "api_revenue": "SELECT * FROM api_revenue",
    "contribution_ratios": "SELECT * FROM contribution_ratios",
    "payouts": "SELECT * FROM payouts",
    "payout_periods": "SELECT * EXCLUDE (closed_at) FROM payout_periods",
}


def near_copy(text: str) -> str:
    """The same text with a few words changed (one in thirty): a near duplicate, not an exact one."""
    words = text.split(" ")
    return " ".join("수정됨" if i % 30 == 7 else w for i, w in enumerate(words))


def fill(bed: conftest.Testbed, texts: list[str]) -> None:
    """Four (contributor, month) partitions with exact and near copies across contributors and months (two
    partitions of one month copy each other, and are processed at the same time), and a reference text."""
    docs = lambda chunk, prefix: [{"id": f"{prefix}{i}", "text": t} for i, t in enumerate(chunk)]  # noqa: E731
    bed.drop("alice", "essays.jsonl", docs(texts[0:5], "a"), seoul(2026, 9, 3, 9))
    bed.drop("bob", "bob.jsonl", docs(texts[5:9] + [texts[0], texts[14]], "b"), seoul(2026, 9, 10, 9))  # 14: reference
    bed.drop("alice", "more.jsonl", docs(texts[9:11] + [texts[6]], "a2"), seoul(2026, 10, 2, 9))
    bed.drop("carol", "carol.jsonl", docs(texts[11:13] + [near_copy(texts[1]), texts[7], texts[9]], "c"),
             seoul(2026, 10, 1, 9))  # before alice's October upload, which holds texts[9] too
    bed.reference("public.jsonl", [{"id": "web-1", "text": texts[14]}])
    bed.revenue([(date(2026, 9, 1) + timedelta(n), 100, 1000, 500, "1000.37") for n in range(61)])


def snapshot(bed: conftest.Testbed) -> dict:
    return {name: bed.query(f"{sql} ORDER BY ALL") for name, sql in TABLES.items()}
