"""The recitation guard's index kept current by `onett ingest`, on real court decisions: each update reads again only
the partitions whose documents moved (a new month, an erasure, a withdrawal, terms ending), and the index it leaves
holds the same texts, token for token, with the same documents, as one built whole from the same warehouse."""

from __future__ import annotations

import os
import shutil

import duckdb
import polars as pl
from dagster import AssetKey

from conftest import distinct_texts, seoul
from onett_text.recitation import SOURCE_CATALOG, SOURCE_PARTS, RecitationIndex

COURT = "ko_court_precedents", "precedents.jsonl.gz"


def docs(texts: list[str], prefix: str) -> list[dict]:
    return [{"id": f"{prefix}{i}", "text": t} for i, t in enumerate(texts)]


def guard(onett) -> dict[str, tuple]:
    """content_hash -> (the documents holding it, its token ids as bytes or None when too short to index)."""
    index = RecitationIndex.load(onett.home / "data" / "recitation-index")
    tokens: dict[int, bytes] = {}
    for segment in index.segments:
        for n, text_id in enumerate(segment.text_ids.tolist()):
            tokens[text_id] = segment.tokens[segment.starts[n]:segment.starts[n + 1]].tobytes()
    assert len(tokens) == index.text_count  # no text indexed twice
    held = {}
    for text_id, entry in index.sources.items():
        documents = sorted(tuple(sorted(d.items())) for d in entry["documents"])
        assert entry["content_hash"] not in held, "one text id per text"
        held[entry["content_hash"]] = (entry["contributor_id"], documents, tokens.pop(text_id, None))
    assert not tokens, "every indexed text has its sources"
    return held


def text_id(onett, content_hash: str) -> int:
    index = RecitationIndex.load(onett.home / "data" / "recitation-index")
    found, = [t for t, entry in index.sources.items() if entry["content_hash"] == content_hash]
    return found


def last_update(onett) -> dict:
    event = onett.session().instance.get_latest_materialization_event(AssetKey("recitation_index"))
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def built_whole(onett) -> dict[str, tuple]:
    """The index built again from nothing by the next ingest (the updated one moved aside first)."""
    data = onett.home / "data"
    aside = onett.home / "aside"
    aside.mkdir(exist_ok=True)
    for path in data.iterdir():
        if path.name == "recitation-index" or path.name.startswith(".recitation-index."):
            shutil.move(str(path), aside / f"{path.name}.{len(list(aside.iterdir()))}")
    onett.ok("ingest")
    assert last_update(onett)["how"] == "built whole"
    return guard(onett)


def expected_documents(onett) -> set[tuple]:
    return set(onett.query(
        "SELECT content_hash, contributor_id, file, position FROM documents WHERE status = 'accepted' "
        "AND withdrawn_at IS NULL AND erased_at IS NULL AND (terms_expire_at IS NULL OR terms_expire_at > now())"))


def in_guard(held: dict[str, tuple]) -> set[tuple]:
    return {(h, dict(d)["contributor_id"], dict(d)["file"], dict(d)["position"])
            for h, (_, documents, _) in held.items() for d in documents}


def test_updates_read_only_what_moved_and_equal_an_index_built_whole(onett):
    texts = distinct_texts(*COURT, 24, limit=400)
    onett.drop("amy", "a.jsonl", docs(texts[0:5], "a"), seoul(2026, 9, 3, 10))
    onett.drop("bob", "b.jsonl", docs(texts[5:10], "b"), seoul(2026, 9, 4, 10))
    onett.drop("carl", "c.jsonl", docs(texts[10:14], "c"), seoul(2026, 9, 5, 10))
    onett.ok("ingest")
    first = last_update(onett)
    assert first["how"] == "built whole" and first["partitions"] == 3 and first["partitions read again"] == 3
    catalog = (onett.home / "data" / "recitation-index" / SOURCE_PARTS / SOURCE_CATALOG)
    assert catalog.exists()

    # a new month for amy, with a copy of bob's text (a duplicate: bob's document keeps holding it) and a short
    # text: only amy's new partition is read again
    short = {"id": "short", "text": "짧은 글입니다."}
    onett.drop("amy", "a2.jsonl", docs(texts[14:18] + [texts[6]], "n") + [short], seoul(2026, 10, 2, 10))
    onett.ok("ingest")
    second = last_update(onett)
    assert second["how"] == "updated" and second["partitions"] == 4 and second["partitions read again"] == 1
    assert second["texts added"] == 4 and second["texts removed"] == 0
    updated = guard(onett)
    assert in_guard(updated) == expected_documents(onett)
    assert updated == built_whole(onett)

    # bob's file erased, carl's withdrawn: their texts leave, but amy's copy of bob's text now earns for her (first
    # come among those left), so her October is read again too and the text stays under its id
    (copy,), = onett.query("SELECT content_hash FROM documents WHERE contributor_id = 'bob' AND doc_id = 'b1'")
    copy_id = text_id(onett, copy)
    onett.ok("erase", "bob", "b.jsonl", "--reason", "the contributor asked")
    os.remove(onett.landing / "carl" / "c.jsonl")
    onett.ok("ingest")
    third = last_update(onett)
    assert third["how"] == "updated" and third["texts removed"] == 8, third
    assert third["partitions"] == 2 and third["partitions read again"] == 3, third
    after = guard(onett)
    assert in_guard(after) == expected_documents(onett)
    assert after[copy][0] == "amy" and text_id(onett, copy) == copy_id

    # amy's October terms end (the clock passes them) as dan's first upload arrives: two partitions read again
    conn = duckdb.connect(str(onett.warehouse))
    conn.execute("UPDATE documents SET terms_expire_at = now() - INTERVAL 1 MINUTE "
                 "WHERE contributor_id = 'amy' AND period = '2026-10-01'")
    conn.close()
    onett.drop("dan", "d.jsonl", docs(texts[18:21], "d"), seoul(2026, 10, 6, 10))
    onett.ok("ingest")
    fourth = last_update(onett)
    assert fourth["partitions read again"] == 2 and fourth["texts added"] == 3 and fourth["texts removed"] == 5, fourth
    updated = guard(onett)
    assert {c for c, _, _ in updated.values()} == {"amy", "dan"} and len(updated) == 8
    assert in_guard(updated) == expected_documents(onett)
    assert updated == built_whole(onett)


def test_a_damaged_source_part_is_named_by_verify_and_the_next_update_rebuilds(onett):
    texts = distinct_texts(*COURT, 8, limit=300)
    onett.drop("amy", "a.jsonl", docs(texts[0:4], "a"), seoul(2026, 9, 3, 10))
    onett.drop("bob", "b.jsonl", docs(texts[4:8], "b"), seoul(2026, 9, 4, 10))
    onett.ok("ingest")
    assert "recitation index: 2 source part(s) checked" in onett.ok("verify")
    index = RecitationIndex.load(onett.home / "data" / "recitation-index")
    bob = index.source_catalog().filter(contributor_id="bob")["part"].item()
    part = onett.home / "data" / "recitation-index" / SOURCE_PARTS / f"{bob}.parquet"
    pl.read_parquet(part).head(1).write_parquet(part)  # a readable part missing rows
    code, out = onett.cli("verify")
    assert code == 1 and "sources of bob 2026-09 hold 1 document(s), its catalog counted 4" in out, out
    part.write_bytes(b"PAR1 not a part")
    code, out = onett.cli("verify")
    assert code == 1 and f"source part {bob} cannot be read" in out, out

    # bob's upload erased: his partition is read again, its part cannot be: the index is rebuilt whole, correct
    onett.ok("erase", "bob", "b.jsonl", "--reason", "the contributor asked")
    onett.ok("ingest")
    update = last_update(onett)
    assert update["how"].startswith("built whole (the recitation index's source part"), update
    assert {c for c, _, _ in guard(onett).values()} == {"amy"}
    assert in_guard(guard(onett)) == expected_documents(onett)
    assert "recitation index: 1 source part(s) checked" in onett.ok("verify")


def test_an_index_from_before_source_parts_is_rebuilt_whole_once(onett):
    texts = distinct_texts(*COURT, 6, limit=300)
    onett.drop("amy", "a.jsonl", docs(texts[0:3], "a"), seoul(2026, 9, 3, 10))
    onett.ok("ingest")
    folder = onett.home / "data" / "recitation-index"
    held = guard(onett)
    old = RecitationIndex.load(folder)
    old.save(folder, sources=old.sources, keep_previous=False)  # its sources in one mapping, as indexes were saved
    assert RecitationIndex.load(folder).source_catalog() is None
    onett.drop("bob", "b.jsonl", docs(texts[3:6], "b"), seoul(2026, 9, 4, 10))
    onett.ok("ingest")
    assert last_update(onett)["how"] == "built whole (ids of another encoding, or sources not kept in parts yet)"
    assert RecitationIndex.load(folder).source_catalog().height == 2
    assert {h: v for h, v in guard(onett).items() if h in held} == held and len(guard(onett)) == 6
    onett.drop("carl", "c.jsonl", docs(texts[0:1], "c"), seoul(2026, 9, 5, 10))  # a duplicate: nothing moves
    onett.ok("ingest")
    assert last_update(onett)["how"] == "updated" and last_update(onett)["partitions read again"] == 0
