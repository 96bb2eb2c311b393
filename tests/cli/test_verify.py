"""`onett verify` finds what is wrong and changes nothing: a published payout edited by hand, an archived upload, a
Parquet part or a copy the near-duplicate index keeps damaged on disk; on healthy books it says everything agrees."""

from __future__ import annotations

import re
from datetime import date, timedelta

import duckdb
import numpy as np

from conftest import corpus, seoul


def _platform(onett) -> None:
    texts = [d["text"] for d in corpus("ko_petitions", "petitions.jsonl.gz", limit=30)]
    onett.drop("bob", "b.jsonl", [{"id": f"b{i}", "text": t} for i, t in enumerate(texts[:10])], seoul(2026, 9, 20))
    onett.drop("carol", "c.jsonl", [{"id": f"c{i}", "text": t} for i, t in enumerate(texts[10:20])],
               seoul(2026, 9, 21))
    onett.revenue([(date(2026, 9, 1) + timedelta(n), 1, 1, 1, "1000") for n in range(30)])
    onett.ok("ingest")
    onett.ok("close", "2026-09")


def test_healthy_books_agree_and_an_edited_payout_is_found(onett):
    _platform(onett)
    out = onett.ok("verify")
    assert "everything agrees" in out and "1 closed month(s) recomputed, all agree" in out
    assert "2 upload(s) decrypted and hashed" in out
    # an embedded platform keeps no credit key shards: nothing of them to compare
    assert re.search(r"index copies: [1-9]\d* sorted bucket array\(s\) with their filters, [1-9]\d* signature "
                     r"file\(s\) and 0 credit key row\(s\) compared", out)

    conn = duckdb.connect(str(onett.warehouse))
    conn.execute("UPDATE payouts SET amount = amount + 100 WHERE contributor_id = 'bob'")
    conn.execute("UPDATE payouts SET amount = amount - 100 WHERE contributor_id = 'carol'")  # still sums to the pool
    conn.close()
    before = onett.query("SELECT * FROM payouts ORDER BY ALL")
    code, out = onett.cli("verify")
    assert code == 1
    assert "2026-09: bob would be paid -100 KRW more" in out and "2026-09: carol would be paid +100 KRW more" in out
    assert onett.query("SELECT * FROM payouts ORDER BY ALL") == before  # nothing changed


def test_damaged_archive_and_parts_are_named(onett):
    _platform(onett)
    archived = sorted((onett.home / "data" / "uploads").rglob("*.sealed"))
    assert len(archived) == 2
    victim = archived[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    part = sorted((onett.home / "data" / "filtered").rglob("*.parquet"))[0]
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    code, out = onett.cli("verify")
    assert code == 1
    assert out.count("PROBLEM: archive ") == 1 and "unreadable" in out
    assert f"PROBLEM: part {part}: damaged" in out


def test_damaged_index_copies_are_named(onett):
    _platform(onett)
    index = onett.warehouse.with_suffix(".near-index")
    signatures = sorted(index.glob("signatures/*.sig.npy"))
    arrays = sorted(index.glob("shard=*/*.sorted.npy"))
    filters = sorted(index.glob("shard=*/*.filter.npy"))
    assert signatures and arrays and len(filters) == len(arrays)
    for victim in (signatures[0], arrays[0]):  # one bit flipped in the last row
        data = bytearray(victim.read_bytes())
        data[-3] ^= 0x10
        victim.write_bytes(bytes(data))
    words = np.load(filters[-1])
    np.save(filters[-1], np.zeros_like(words))  # a filter that holds nothing would hide every near copy
    code, out = onett.cli("verify")
    assert code == 1
    assert f"PROBLEM: signature file {str(signatures[0])[:-len('.sig.npy')]}: 1 of its" in out
    assert f"PROBLEM: sorted rows {arrays[0]}: do not hold" in out
    assert f"PROBLEM: filter {filters[-1]}: misses" in out
    assert out.count("PROBLEM:") == 3
