"""Updating the recitation guard from the partitions' digests: a text held by documents in two partitions keeps one
id while either holds it and leaves only with the last; a text that could not be read is left out and its partition
read again next time; unchanged partitions' sources are linked, never rewritten; each new text is read once, from the
first row of the first partition whose parts hold it, across parts, batches and the picks' own batches."""

from __future__ import annotations

import hashlib
import shutil
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from conftest import warehouse
from onett_domain import recitation_update
from onett_domain.recitation import part_name
from onett_resources.parquet_parts import read_batches
from onett_text.passages import encode
from onett_text.recitation import SOURCE_PARTS, RecitationIndex

TOKENS = {h: np.arange(n, n + 80, dtype=np.uint32) for n, h in enumerate("abcdefgh")}
HASH = {label: hashlib.md5(label.encode()).hexdigest() for label in "abcdefghxy"}  # labels stand for hashes here
LABEL = {content_hash: label for label, content_hash in HASH.items()}


def add(conn, contributor: str, month: int, position: int, label: str) -> None:
    conn.execute(
        "INSERT INTO documents (contributor_id, period, file, position, doc_id, submitted_at, content_hash, raw_tokens,"
        " tokens, status, reason, duplicate_of, hash_key) VALUES (?, ?, ?, ?, ?, ?, ?, 80, 80, 'accepted', '', '',"
        " ?::UUID)",
        [contributor, date(2026, month, 1), f"{contributor}.jsonl", position, f"d{position}",
         datetime(2026, month, 2, tzinfo=timezone.utc), HASH[label], HASH[label]])


def token_parts(conn, folder: Path, contributor: str, period: date, unreadable: frozenset,
                files: int = 1) -> list[Path]:
    """The partition's token ids as `filtered` keeps them (a row per document here, duplicates included), spread
    over `files` parts of two row groups each; `unreadable` hashes (or (contributor, hash) pairs) left out."""
    labels = [LABEL[h] for h, in conn.execute("SELECT content_hash FROM documents WHERE contributor_id = ? "
                                              "AND period = ? ORDER BY position", [contributor, period]).fetchall()]
    labels = [label for label in labels if label not in unreadable and (contributor, label) not in unreadable]
    folder = folder / contributor / str(period)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for n, chunk in enumerate(np.array_split(np.array(labels, dtype=object), files)):
        frame = pl.DataFrame({"content_hash": [HASH[label] for label in chunk],
                              "token_ids": [TOKENS[label] for label in chunk]},
                             schema={"content_hash": pl.String, "token_ids": pl.List(pl.UInt32)})
        path = folder / f"passages-{n:05d}.parquet"
        frame.write_parquet(path, row_group_size=max(1, (frame.height + 1) // 2))
        written.append(path)
    return written


def update_guard(conn, folder: Path, unreadable: frozenset = frozenset(), files: int = 1):
    """What the recitation_index asset does, with the texts' token ids from TOKENS (`unreadable` hashes missing from
    the parts); the plan's folder (its parent missing at first) removed once saved, as the store does. Returns
    the plan, the content hashes it found new to the guard, and the index saved."""
    current = RecitationIndex.load(folder) if (folder / "manifest.json").exists() else None
    spill = folder.parent / "new" / "spill"
    plan = recitation_update.plan(conn, current, spill)
    read_again = {part_name(c, p) for c, p in plan.changed.iter_rows()}
    with recitation_update.Reading(plan) as reading:
        def added():
            for contributor, period, texts in reading.partitions():
                parts = token_parts(conn, folder.parent / "filtered", contributor, period, unreadable, files)
                yield from reading.texts(contributor, period, texts, parts, read_batches, [], "cl100k_base")

        def sources():
            parts = reading.sources(current)
            assert all(isinstance(parts.frames[name], Path) for name in parts.frames if name in read_again)
            return parts

        index = (RecitationIndex.build(added(), sources=sources, spill=spill) if current is None
                 else current.updated(added(), plan.removed, sources, spill=spill))
        index.save(folder, keep_previous=False)
    new = [LABEL[h] for h in plan.new_texts()["content_hash"].to_list()]
    shutil.rmtree(spill, ignore_errors=True)
    return plan, new, RecitationIndex.load(folder)


def held(index: RecitationIndex) -> dict[str, tuple[int, list[str]]]:
    """label -> (text id, the contributors of the documents holding it)."""
    return {LABEL[e["content_hash"]]: (t, sorted(d["contributor_id"] for d in e["documents"]))
            for t, e in index.sources.items()}


def tokens(index: RecitationIndex) -> dict[int, list[int]]:
    found = {}
    for segment in index.segments:
        for n, text_id in enumerate(segment.text_ids.tolist()):
            assert text_id not in found, "a text indexed twice"
            found[text_id] = segment.tokens[segment.starts[n]:segment.starts[n + 1]].tolist()
    return found


def test_a_text_in_two_partitions_keeps_one_id_until_the_last_lets_go(tmp_path):
    conn = warehouse()
    folder = tmp_path / "guard"
    add(conn, "amy", 9, 0, "a")
    add(conn, "amy", 9, 1, "b")
    add(conn, "bob", 9, 0, "c")
    plan, new, index = update_guard(conn, folder)
    assert plan.changed.height == 2 and sorted(held(index)) == ["a", "b", "c"]
    a_id, b_id = held(index)["a"][0], held(index)["b"][0]
    parts = {p.name: p.stat().st_ino for p in (folder.resolve() / SOURCE_PARTS).glob("2*.parquet")}

    # carl holds amy's text too (held twice: the guard names both documents under one id) and a new one
    add(conn, "carl", 10, 0, "a")
    add(conn, "carl", 10, 1, "d")
    plan, new, index = update_guard(conn, folder)
    assert plan.changed.rows() == [("carl", date(2026, 10, 1))]
    assert plan.removed.tolist() == [] and new == ["d"]
    assert held(index)["a"] == (a_id, ["amy", "carl"]) and index.text_count == 4
    after = {p.name: p.stat().st_ino for p in (folder.resolve() / SOURCE_PARTS).glob("2*.parquet")}
    assert {n: after[n] for n in parts} == parts  # amy's and bob's sources linked, not written again

    # amy's September withdrawn: "a" stays (carl holds it) under its id, "b" leaves
    conn.execute("UPDATE documents SET withdrawn_at = now() WHERE contributor_id = 'amy'")
    plan, new, index = update_guard(conn, folder)
    assert plan.changed.rows() == [("amy", date(2026, 9, 1))]
    assert plan.removed.tolist() == [b_id]
    assert held(index)["a"] == (a_id, ["carl"]) and "b" not in held(index)
    assert a_id in index.text_ids.tolist() and index.text_count == 3

    # carl's October erased as well: "a" leaves with the last document holding it
    conn.execute("UPDATE documents SET erased_at = now() WHERE contributor_id = 'carl'")
    plan, new, index = update_guard(conn, folder)
    assert a_id in plan.removed.tolist() and sorted(held(index)) == ["c"] and index.text_count == 1


def test_a_text_not_read_is_left_out_and_its_partition_read_again(tmp_path):
    conn = warehouse()
    folder = tmp_path / "guard"
    add(conn, "amy", 9, 0, "a")
    update_guard(conn, folder)
    add(conn, "bob", 9, 0, "e")
    add(conn, "bob", 9, 1, "f")
    plan, new, index = update_guard(conn, folder, unreadable=frozenset({"f"}))
    assert sorted(held(index)) == ["a", "e"]
    assert index.source_catalog().filter(pl.col("digest").is_null())["contributor_id"].to_list() == ["bob"]
    plan, new, index = update_guard(conn, folder)  # nothing moved, but bob's partition was not complete
    assert plan.changed.rows() == [("bob", date(2026, 9, 1))]
    assert new == ["f"] and sorted(held(index)) == ["a", "e", "f"]
    assert index.source_catalog()["digest"].null_count() == 0
    plan, _, _ = update_guard(conn, folder)
    assert plan.changed.is_empty() and plan.documents == 0


@pytest.mark.parametrize("picks", [1, 3, 1 << 16], ids=["a pick per batch", "picks in batches of 3", "one batch"])
def test_each_new_text_is_read_once_from_the_first_partition_holding_it(tmp_path, monkeypatch, picks):
    monkeypatch.setattr(recitation_update, "PICKS_PER_BATCH", picks)
    conn = warehouse()
    # amy's September repeats texts across her parts and holds "g", which her parts lack (not readable there);
    # bob's October holds "g" readable, and amy's "a" again
    for position, label in enumerate("abcabdgeeh"):
        add(conn, "amy", 9, position, label)
    for position, label in enumerate("gah"):
        add(conn, "bob", 10, position, label)
    plan, new, index = update_guard(conn, tmp_path / "guard", unreadable=frozenset({("amy", "g")}), files=3)
    found = tokens(index)
    assert sorted(held(index)) == list("abcdegh") and len(found) == 7
    for label, (text_id, _) in held(index).items():
        assert found[text_id] == TOKENS[label].tolist(), label
    assert held(index)["g"][1] == ["amy", "bob"] and index.source_catalog()["digest"].null_count() == 0


def test_parts_from_before_token_ids_were_kept_are_tokenized_again(tmp_path):
    conn = warehouse()
    texts = {"x": "대법원은 원심판결을 파기하고 사건을 서울고등법원에 환송한다. " * 4,
             "y": "The appeal is dismissed and the costs are borne by the appellant. " * 4}
    for position, label in enumerate("xy"):
        add(conn, "amy", 9, position, label)
    docs = tmp_path / "docs-00000.parquet"
    pl.DataFrame({"content_hash": [HASH[label] for label in texts], "text": list(texts.values())}).write_parquet(docs)
    spill = tmp_path / "spill"
    plan = recitation_update.plan(conn, None, spill)
    with recitation_update.Reading(plan) as reading:
        (contributor, period, count), = reading.partitions()
        read = dict(reading.texts(contributor, period, count, [], read_batches, [docs], "cl100k_base"))
        assert reading.recoded == 2 and reading.unread().tolist() == []
    ids = dict(pl.read_parquet(plan.ids).select("content_hash", "text_id").iter_rows())
    for label, text in texts.items():
        assert read[ids[HASH[label]]].tolist() == encode(text, "cl100k_base").tolist()


def test_texts_too_short_for_the_index_are_read_but_not_given(tmp_path):
    """A text with fewer stored ids than the index can hold is marked read without being handed on (nor tokenized
    again from the text parts): a partition of many short texts costs its batches, not a step per text."""
    conn = warehouse()
    for position, label in enumerate("abcd"):
        add(conn, "amy", 9, position, label)
    short = {HASH["b"]: 5, HASH["d"]: 46}  # ids kept for b and d: fewer than the 47 asked for below
    parts = tmp_path / "passages-00000.parquet"
    pl.DataFrame({"content_hash": [HASH[label] for label in "abcd"],
                  "token_ids": [TOKENS[label][:short.get(HASH[label], 80)] for label in "abcd"]},
                 schema={"content_hash": pl.String, "token_ids": pl.List(pl.UInt32)}).write_parquet(
        parts, row_group_size=2)
    docs = tmp_path / "docs-00000.parquet"
    pl.DataFrame({"content_hash": [HASH[label] for label in "abcd"], "text": ["never read"] * 4}).write_parquet(docs)
    plan = recitation_update.plan(conn, None, tmp_path / "spill")
    ids = dict(pl.read_parquet(plan.ids).select("content_hash", "text_id").iter_rows())
    with recitation_update.Reading(plan) as reading:
        (contributor, period, count), = reading.partitions()
        given = dict(reading.texts(contributor, period, count, [parts], read_batches, [docs], "cl100k_base",
                                   min_tokens=47))
        assert sorted(given) == sorted(ids[HASH[label]] for label in "ac")
        assert all(given[ids[HASH[label]]].tolist() == TOKENS[label].tolist() for label in "ac")
        assert reading.recoded == 0 and reading.unread().tolist() == [] and reading.indexed.all()
