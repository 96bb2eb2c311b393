"""Planning an update of the recitation guard from the partitions' digests: a text held by documents in two
partitions keeps one id while either holds it and leaves only with the last; a text that could not be read is left
out and its partition read again next time; unchanged partitions' sources are linked, never rewritten."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timezone
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from conftest import warehouse
from onett_domain import recitation
from onett_text.recitation import SOURCE_PARTS, RecitationIndex

TOKENS = {h: np.arange(n, n + 80, dtype=np.uint32) for n, h in enumerate("abcdef")}


def add(conn, contributor: str, month: int, position: int, content_hash: str) -> None:
    conn.execute(
        "INSERT INTO documents (contributor_id, period, file, position, doc_id, submitted_at, content_hash, raw_tokens,"
        " tokens, status, reason, duplicate_of, hash_key) VALUES (?, ?, ?, ?, ?, ?, ?, 80, 80, 'accepted', '', '',"
        " md5(?)::UUID)",  # a key for the short labels standing in for hashes here
        [contributor, date(2026, month, 1), f"{contributor}.jsonl", position, f"d{position}",
         datetime(2026, month, 2, tzinfo=timezone.utc), content_hash, content_hash])


def update_guard(conn, folder, unreadable: frozenset[str] = frozenset(), spill: Path | None = None):
    """What the recitation_index asset does, with the texts' token ids from TOKENS (`unreadable` hashes missing);
    with `spill`, the holders and the parts read again are written there, and the folder removed once saved."""
    current = RecitationIndex.load(folder) if (folder / "manifest.json").exists() else None
    plan = recitation.plan(conn, current, spill)
    indexed: set[int] = set()

    def added():
        for content_hash, text_id in plan.update.new.unique("content_hash", maintain_order=True).select(
                "content_hash", "text_id").iter_rows():
            if content_hash not in unreadable:
                indexed.add(text_id)
                yield text_id, TOKENS[content_hash]

    def sources():
        parts = recitation.next_sources(plan, current, indexed, spill)
        if spill is not None:  # files, not frames held until the save
            assert all(isinstance(parts.frames[name], Path) for name in parts.frames if name in read_again)
        return parts

    read_again = {recitation.part_name(c, p) for c, p in plan.changed.iter_rows()}
    index = (RecitationIndex.build(added(), sources=sources) if current is None
             else current.updated(added(), plan.update.removed, sources))
    index.save(folder, keep_previous=False)
    if spill is not None:
        shutil.rmtree(spill, ignore_errors=True)  # as the store does once saved
    return plan, RecitationIndex.load(folder)


def held(index: RecitationIndex) -> dict[str, tuple[int, list[str]]]:
    return {e["content_hash"]: (t, sorted(d["contributor_id"] for d in e["documents"]))
            for t, e in index.sources.items()}


@pytest.mark.parametrize("spilled", [False, True], ids=["parts held", "parts spilled as made"])
def test_a_text_in_two_partitions_keeps_one_id_until_the_last_lets_go(tmp_path, spilled):
    conn = warehouse()
    folder = tmp_path / "guard"
    update = partial(update_guard, spill=tmp_path / "new" / "spill" if spilled else None)  # its parent made too
    add(conn, "amy", 9, 0, "a")
    add(conn, "amy", 9, 1, "b")
    add(conn, "bob", 9, 0, "c")
    plan, index = update(conn, folder)
    assert plan.changed.height == 2 and sorted(held(index)) == ["a", "b", "c"]
    a_id, b_id = held(index)["a"][0], held(index)["b"][0]
    parts = {p.name: p.stat().st_ino for p in (folder.resolve() / SOURCE_PARTS).glob("2*.parquet")}

    # carl holds amy's text too (held twice: the guard names both documents under one id) and a new one
    add(conn, "carl", 10, 0, "a")
    add(conn, "carl", 10, 1, "d")
    plan, index = update(conn, folder)
    assert plan.changed.rows() == [("carl", date(2026, 10, 1))]
    assert plan.update.removed == set() and plan.update.new["content_hash"].to_list() == ["d"]
    assert held(index)["a"] == (a_id, ["amy", "carl"]) and index.text_count == 4
    after = {p.name: p.stat().st_ino for p in (folder.resolve() / SOURCE_PARTS).glob("2*.parquet")}
    assert {n: after[n] for n in parts} == parts  # amy's and bob's sources linked, not written again

    # amy's September withdrawn: "a" stays (carl holds it) under its id, "b" leaves
    conn.execute("UPDATE documents SET withdrawn_at = now() WHERE contributor_id = 'amy'")
    plan, index = update(conn, folder)
    assert plan.changed.rows() == [("amy", date(2026, 9, 1))]
    assert plan.update.removed == {b_id}
    assert held(index)["a"] == (a_id, ["carl"]) and "b" not in held(index)
    assert a_id in index.text_ids.tolist() and index.text_count == 3

    # carl's October erased as well: "a" leaves with the last document holding it
    conn.execute("UPDATE documents SET erased_at = now() WHERE contributor_id = 'carl'")
    plan, index = update(conn, folder)
    assert a_id in plan.update.removed and sorted(held(index)) == ["c"] and index.text_count == 1


def test_a_text_not_read_is_left_out_and_its_partition_read_again(tmp_path):
    conn = warehouse()
    folder = tmp_path / "guard"
    add(conn, "amy", 9, 0, "a")
    update_guard(conn, folder)
    add(conn, "bob", 9, 0, "e")
    add(conn, "bob", 9, 1, "f")
    plan, index = update_guard(conn, folder, unreadable=frozenset({"f"}))
    assert sorted(held(index)) == ["a", "e"]
    assert index.source_catalog().filter(pl.col("digest").is_null())["contributor_id"].to_list() == ["bob"]
    plan, index = update_guard(conn, folder)  # nothing moved, but bob's partition was not complete
    assert plan.changed.rows() == [("bob", date(2026, 9, 1))]
    assert plan.update.new["content_hash"].to_list() == ["f"] and sorted(held(index)) == ["a", "e", "f"]
    assert index.source_catalog()["digest"].null_count() == 0
    plan, _ = update_guard(conn, folder)
    assert plan.changed.is_empty() and plan.held.is_empty()
