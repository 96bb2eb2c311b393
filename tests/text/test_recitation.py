"""The recitation guard's index on real text (../shared/corpora, skipped where absent): a copied span is found with
its offsets, a shorter one is not reported, held-out text is not flagged, every flag is a real shared run, the
runs equal a brute-force search's, and a saved index loads back the same.

Held-out text and genuine sharing: a corpus split in two halves is flagged only where the halves really share a
run of 50 tokens. Moby-Dick's chapters, Shakespeare's chunks and the news sentences do not (0 flagged below). The
other prose corpora do, verbatim, and the guard is right to flag them: court decisions quote the same statutes,
holdings and formulas (48% of 2,000-character windows of one half share >= 50 tokens with the other half), statutes
repeat their organisation clauses (30%), petitions are reposted with edits that MinHash dedup does not catch (8-10%),
State of the Union addresses quote earlier ones and the Constitution (0.9%), e-mails quote each other (44%). Those
corpora are checked for the other property instead: every span flagged there is a maximal run both texts hold.
"""

from __future__ import annotations

import random
import time

import numpy as np
import pytest

from conftest import corpus
from onett_text.passages import GUARANTEED_SPAN, encode
from onett_text.recitation import MAX_SOURCES, RecitationIndex, check
from onett_text.tokens import load_encoding

ENC = "cl100k_base"
OUTSIDE = 1 << 30  # a token id no text holds: a planted copy cannot run on by chance


def texts(name: str, file: str, limit: int | None = None) -> list[str]:
    return list(dict.fromkeys(d["text"] for d in corpus(name, file, limit=limit)))


def clean_span(ids: np.ndarray, length: int, rng: random.Random) -> tuple[int, str]:
    """A position whose `length` tokens decode to text that encodes back to the same ids (no split character, no
    word cut in a way that re-tokenizes differently) and ends on a letter or digit (punctuation or a space before
    a line end would join it in one token), and that text."""
    enc = load_encoding(ENC)
    for _ in range(200):
        at = rng.randrange(0, len(ids) - length)
        piece = ids[at:at + length]
        try:
            text = enc.decode_bytes(piece.tolist()).decode("utf-8")
        except UnicodeDecodeError:
            continue
        if text[:1].strip() and text[-1:].isalnum() and np.array_equal(encode(text, ENC), piece):
            return at, text
    raise AssertionError("no clean span found")


@pytest.fixture(scope="module")
def indexed():
    """Court decisions, statutes and Moby-Dick indexed; Shakespeare (never indexed) is the fresh text around."""
    docs = (texts("ko_court_precedents", "precedents.jsonl.gz", limit=150)
            + texts("ko_laws", "laws.jsonl.gz", limit=6)
            + texts("en_moby_dick", "moby_dick_chapters.jsonl.gz", limit=40))
    ids = [encode(t, ENC) for t in docs]
    sources = {1000 + i: {"contributor_id": f"c{i % 7}", "documents": [f"doc-{i}"]} for i in range(len(docs))}
    index = RecitationIndex.build(((1000 + i, x) for i, x in enumerate(ids)), ENC, sources)
    host = "\n".join(texts("en_tiny_shakespeare", "tiny_shakespeare_chunks.jsonl.gz", limit=20))
    return index, docs, ids, host


def plant(host: str, span: str, rng: random.Random) -> tuple[str, int]:
    """`span` between two line ends inside 2,000 characters of fresh text; returns the text and where it starts."""
    at = rng.randrange(0, len(host) - 2000)
    before = host[at:at + 900].rsplit("\n", 1)[0] + "\n"
    after = "\n" + host[at + 900:at + 1800].split("\n", 1)[-1]
    return before + span + after, len(before)


def test_a_copied_60_token_span_is_found_with_its_offsets(indexed):
    index, docs, ids, host = indexed
    rng = random.Random(3)
    picks = [0, 1, 2, 150, 151, len(docs) - 1, len(docs) - 2] + rng.sample(range(len(docs)), 8)
    for doc in picks:
        if len(ids[doc]) < 200:
            continue
        at, span = clean_span(ids[doc], 60, rng)
        text, start = plant(host, span, rng)
        verdict = check(text, ENC, index)
        assert verdict.verdict == "recites", (doc, span)
        assert len(verdict.spans) == 1, [(s.start, s.end, s.tokens) for s in verdict.spans]
        found = verdict.spans[0]
        assert (found.start, found.end) == (start, start + len(span)) and found.tokens == 60, (doc, found)
        out = encode(text, ENC)
        enc = load_encoding(ENC)
        assert len(enc.decode_bytes(out[:found.start_token].tolist()).decode()) == found.start
        assert len(enc.decode_bytes(out[:found.end_token].tolist()).decode()) == found.end
        # the document is a source (at the first place it holds the span: a chapter may repeat a line), unless
        # more texts than are listed hold it
        positions = [s.position for s in found.sources if s.text_id == 1000 + doc]
        assert positions or found.source_count > len(found.sources), (doc, found)
        for position in positions:
            assert position <= at and np.array_equal(ids[doc][position:position + 60], ids[doc][at:at + 60])
        assert text[found.start:found.end] == span


def test_a_40_token_span_is_not_reported_but_a_longer_one_is(indexed):
    index, docs, ids, host = indexed
    rng = random.Random(5)
    for doc in (0, 3, len(docs) - 1):
        _, span = clean_span(ids[doc], 40, rng)
        text, _ = plant(host, span, rng)
        assert check(text, ENC, index, 50).verdict == "ok"
    # exact runs: 49 tokens are reported at 47 and 49, not at 50
    source = ids[0]
    out = np.concatenate([np.full(30, OUTSIDE), source[100:149], np.full(30, OUTSIDE)]).astype(np.uint32)
    assert index.find(out, 50) == []
    for floor in (47, 49):
        (match,) = index.find(out, floor)
        assert (match.start, match.end, match.tokens) == (30, 79, 49)
    for wrong in (46, 0, -5, 50.0):
        with pytest.raises(ValueError):
            index.find(out, wrong)


def test_held_out_text_is_not_flagged():
    outputs = flagged = 0
    for name, file in (("en_moby_dick", "moby_dick_chapters.jsonl.gz"),
                       ("en_tiny_shakespeare", "tiny_shakespeare_chunks.jsonl.gz"),
                       ("ko_en_news_parallel", "news_ko_en.jsonl.gz")):
        docs = texts(name, file)
        kept, held = docs[0::2], docs[1::2]
        index = RecitationIndex.build((i, encode(t, ENC)) for i, t in enumerate(kept))
        stream = "\n".join(held)  # short texts (news sentences) run together into outputs
        for at in range(0, len(stream) - 200, 2000):
            outputs += 1
            flagged += check(stream[at:at + 2000], ENC, index).verdict == "recites"
    assert outputs > 600
    assert flagged <= outputs // 1000, f"{flagged} of {outputs} held-out outputs flagged"


def test_every_flag_on_court_decisions_is_a_maximal_run_both_hold():
    docs = texts("ko_court_precedents", "precedents.jsonl.gz", limit=600)
    kept, held = docs[0::2], docs[1::2]
    kept_ids = [encode(t, ENC) for t in kept]
    index = RecitationIndex.build(enumerate(kept_ids), ENC)
    spans = 0
    for text in held[:150]:
        window = text[:2000]
        out = encode(window, ENC)
        for match in index.find(out, 50):
            spans += 1
            for source in match.sources:
                ids = kept_ids[source.text_id]
                a, b = source.position, source.position + match.tokens
                assert np.array_equal(ids[a:b], out[match.start:match.end])
                assert match.start == 0 or a == 0 or ids[a - 1] != out[match.start - 1]
                assert match.end == len(out) or b == len(ids) or ids[b] != out[match.end]
                assert len(match.sources) == min(match.source_count, MAX_SOURCES)
    assert spans > 10  # the decisions do share formulas: the check above was exercised


def brute_force(texts_: list[tuple[int, np.ndarray]], out: np.ndarray, floor: int) -> set[tuple]:
    """(output start, end, text id, first position in the text) of every maximal common run of >= floor tokens."""
    best: dict[tuple, int] = {}
    for text_id, ids in texts_:
        if len(ids) < GUARANTEED_SPAN:
            continue
        for d in range(-len(out) + 1, len(ids)):
            run = 0
            lo, hi = max(0, -d), min(len(out), len(ids) - d)
            for o in range(lo, hi + 1):
                if o < hi and out[o] == ids[o + d]:
                    run += 1
                    continue
                if run >= floor:
                    key = (o - run, o, text_id)
                    best[key] = min(best.get(key, 1 << 62), o - run + d)
                run = 0
    return {(*key, position) for key, position in best.items()}


def test_runs_equal_a_brute_force_search():
    rng = np.random.default_rng(11)
    for trial in range(150):
        vocabulary = int(rng.integers(2, 6))  # few distinct ids: repeated K-grams, runs split by one mismatch
        texts_ = [(100 + i, rng.integers(0, vocabulary, int(rng.integers(10, 300))).astype(np.uint32))
                  for i in range(int(rng.integers(1, 5)))]
        out = rng.integers(0, vocabulary, int(rng.integers(40, 300))).astype(np.uint32)
        for _ in range(int(rng.integers(0, 3))):
            _, ids = texts_[int(rng.integers(len(texts_)))]
            if len(ids) < 60:
                continue
            n = int(rng.integers(40, min(len(ids), len(out)) + 1))
            a, b = int(rng.integers(0, len(ids) - n + 1)), int(rng.integers(0, len(out) - n + 1))
            out[b:b + n] = ids[a:a + n]
        index = RecitationIndex.build(texts_)
        floor = int(rng.integers(GUARANTEED_SPAN, 70))
        got = {(int(s), int(e), int(index.text_ids[t]), int(p)) for s, e, t, p in index.runs(out, floor)}
        assert got == brute_force(texts_, out, floor), (trial, floor)


def test_runs_on_real_text_equal_a_brute_force_search():
    docs = texts("en_moby_dick", "moby_dick_chapters.jsonl.gz", limit=6)
    texts_ = [(i, encode(t, ENC)[:600]) for i, t in enumerate(docs)]
    index = RecitationIndex.build(texts_)
    rng = np.random.default_rng(2)
    for _ in range(10):
        parts = []
        for _ in range(4):
            _, ids = texts_[int(rng.integers(len(texts_)))]
            n = int(rng.integers(20, 120))
            at = int(rng.integers(0, len(ids) - n))
            parts.append(ids[at:at + n])
        out = np.concatenate(parts)
        got = {(int(s), int(e), int(index.text_ids[t]), int(p)) for s, e, t, p in index.runs(out, 50)}
        assert got == brute_force(texts_, out, 50)


def test_save_and_load_round_trip(indexed, tmp_path):
    index, docs, ids, host = indexed
    folder = tmp_path / "recitation"
    first = index.save(folder)
    assert folder.is_symlink() and folder.resolve() == first.resolve()
    loaded = RecitationIndex.load(folder)
    assert len(loaded.segments) == len(index.segments) == 1
    for name in ("hashes", "fp_text", "fp_pos", "tokens", "starts", "text_ids"):
        assert np.array_equal(getattr(loaded.segments[0], name), getattr(index.segments[0], name)), name
    assert isinstance(np.load(first / "segment-0000" / "tokens.npy", mmap_mode="r"), np.memmap)
    assert loaded.encoding == ENC and loaded.token_count == index.token_count
    assert loaded.source(1003) == {"contributor_id": "c3", "documents": ["doc-3"]}
    assert 3.5 < loaded.bytes_per_token < 6.5
    rng = random.Random(9)
    _, span = clean_span(ids[2], 70, rng)
    text, _ = plant(host, span, rng)
    assert check(text, ENC, loaded) == check(text, ENC, index)

    # a new save swaps the link in one rename; the previous generation stays (a reader may be opening it), older go
    second = index.save(folder, sources={1: {"contributor_id": "x", "documents": []}})
    assert folder.resolve() == second.resolve() and first.exists()
    third = index.save(folder)
    assert folder.resolve() == third.resolve() and second.exists() and not first.exists()
    assert check(text, ENC, loaded).verdict == "recites"  # still mapped: the files live on while open
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert len(leftovers) == 3, leftovers  # the link and two generations, no temporary names
    assert RecitationIndex.load(second).source(1) == {"contributor_id": "x", "documents": []}
    assert RecitationIndex.load(folder).source(1) is None and RecitationIndex.load(folder).source(1003)


def test_an_empty_index_and_short_outputs_recite_nothing(tmp_path):
    empty = RecitationIndex.build([], ENC)
    assert empty.find(np.arange(100, dtype=np.uint32)) == []
    empty.save(tmp_path / "empty")
    assert RecitationIndex.load(tmp_path / "empty").find(np.arange(100, dtype=np.uint32)) == []
    index = RecitationIndex.build([(1, np.arange(200, dtype=np.uint32))], ENC)
    assert check("", ENC, index).verdict == "ok"
    assert index.find(np.arange(49, dtype=np.uint32)) == []
    with pytest.raises(ValueError):
        check("text", "o200k_base", index)


def test_repeated_junk_is_searched_within_a_bound_and_says_so():
    """Output positions times text positions: "iIiI..." against a text of the same has millions of hits (the full
    pool holds one K-gram of it 42,517 times). The search keeps to MAX_HITS, reports only real runs, and says it
    was not complete."""
    junk = encode("iI" * 3000, ENC)
    prose = encode(texts("en_moby_dick", "moby_dick_chapters.jsonl.gz", limit=1)[0], ENC)
    index = RecitationIndex.build([(1, junk), (2, prose)], ENC)
    started = time.perf_counter()
    scan = index.scan(junk, 50)
    assert time.perf_counter() - started < 5
    assert not scan.complete and scan.matches
    for match in scan.matches[:500]:
        (source,) = match.sources
        assert np.array_equal(junk[source.position:source.position + match.tokens], junk[match.start:match.end])
    verdict = check("iI" * 3000 + "\n" + ENC, ENC, index)
    assert verdict.verdict == "recites" and not verdict.complete
    assert index.scan(prose[:2000], 50).complete and check(ENC, ENC, index).complete


def _all_runs(index: RecitationIndex, outputs: list[np.ndarray]) -> list[set[tuple]]:
    """Every run of every output as (start, end, text id, position): independent of how texts are segmented."""
    return [{(int(s), int(e), int(index.text_ids[t]), int(p)) for s, e, t, p in index.runs(out, 50)} for out in outputs]


def test_an_updated_index_answers_as_one_built_whole(tmp_path):
    """Submissions arrive one by one, some texts leave: the index kept up to date segment by segment (saved and
    loaded each time, segments merged by size) finds exactly the runs an index built whole finds, the texts that
    left the pool leave the disk, and unchanged segments are linked into each generation, not copied."""
    docs = texts("ko_court_precedents", "precedents.jsonl.gz", limit=240)
    ids = {n + 1: encode(t, ENC) for n, t in enumerate(docs)}
    rng = np.random.default_rng(5)
    # outputs quoting several texts each, over the whole pool
    outputs = []
    for _ in range(40):
        pieces = []
        for text_id in rng.choice(list(ids), 3, replace=False):
            x = ids[int(text_id)]
            start = int(rng.integers(0, max(len(x) - 80, 1)))
            pieces.append(x[start:start + 80])
        outputs.append(np.concatenate(pieces))
    folder = tmp_path / "guard"
    held: dict[int, np.ndarray] = {}
    index = None
    for batch in range(24):  # 24 submissions of 10 texts; every third one withdraws 4 earlier texts
        added = [(i, ids[i]) for i in range(batch * 10 + 1, batch * 10 + 11)]
        removed = set(rng.choice(list(held), 4, replace=False).tolist()) if batch % 3 == 2 else set()
        held.update(added)
        for text_id in removed:
            del held[text_id]
        sources = {i: {"content_hash": str(i), "documents": []} for i in held}
        index = (RecitationIndex.build(added, ENC, sources) if index is None
                 else RecitationIndex.load(folder).updated(added, removed, sources))
        index.save(folder, keep_previous=False)
    loaded = RecitationIndex.load(folder)
    whole = RecitationIndex.build(sorted(held.items()), ENC)
    assert loaded.text_count == whole.text_count == len(held)
    assert sorted(loaded.text_ids.tolist()) == sorted(held)
    assert _all_runs(loaded, outputs) == _all_runs(whole, outputs)
    assert sum(len(r) for r in _all_runs(loaded, outputs)) > 40  # the outputs do quote held texts
    assert 1 < len(loaded.segments) <= 8, [s.text_count for s in loaded.segments]
    # withdrawn text is in no file of the index: the files hold exactly the held texts' tokens
    assert len(held) < 240
    on_disk = np.concatenate([np.load(f, mmap_mode="r") for f in folder.resolve().glob("segment-*/tokens.npy")])
    assert len(on_disk) == loaded.token_count == sum(len(x) for x in held.values())
    generations = [p for p in tmp_path.iterdir() if p.name.startswith(".guard.")]
    assert len(generations) == 1, generations
    # an update adding one text links every unchanged segment (same inode) into the next generation
    before = {f.parent.name: f.stat().st_ino for f in folder.resolve().glob("segment-*/tokens.npy")}
    one_more = RecitationIndex.load(folder).updated([(999, ids[1])], set(), {})
    one_more.save(folder, keep_previous=False)
    after = [f.stat().st_ino for f in folder.resolve().glob("segment-*/tokens.npy")]
    assert len(set(before.values()) & set(after)) >= len(before) - 1
    # every text leaving: nothing left to find, nothing left on disk
    empty = RecitationIndex.load(folder).updated([], set(held) | {999}, {})
    empty.save(folder, keep_previous=False)
    assert RecitationIndex.load(folder).text_count == 0 and not any(_all_runs(RecitationIndex.load(folder), outputs))
    assert sum(f.stat().st_size for f in folder.resolve().glob("segment-*/tokens.npy")) < 1024


def test_segments_stay_under_their_cap_and_spill_to_disk(tmp_path, monkeypatch):
    """An update much larger than a segment is cut into segments of at most SEGMENT_TOKENS, each written to the
    spill folder as it fills and read back memory-mapped; merges never exceed the cap; the saved index links the
    spilled files and answers as one built whole once the spill folder is gone."""
    import shutil

    import onett_text.recitation as recitation

    monkeypatch.setattr(recitation, "SEGMENT_TOKENS", 1 << 14)  # 16,384 tokens: the texts below make dozens
    docs = texts("ko_court_precedents", "precedents.jsonl.gz", limit=200)
    ids = {n + 1: encode(t, ENC) for n, t in enumerate(docs)}
    spill, folder = tmp_path / "spill", tmp_path / "guard"
    first = dict(list(ids.items())[:50])
    RecitationIndex.build(first.items(), ENC, {}, spill=spill).save(folder, keep_previous=False)
    shutil.rmtree(spill)
    index = RecitationIndex.load(folder).updated(((i, x) for i, x in ids.items() if i > 50), {3, 7}, {},
                                                 spill=spill)
    assert all(isinstance(s.tokens, np.memmap) or s.folder is not None for s in index.segments)
    index.save(folder, keep_previous=False)
    shutil.rmtree(spill)
    loaded = RecitationIndex.load(folder)
    cap = recitation.SEGMENT_TOKENS
    assert len(loaded.segments) > 8
    assert all(s.token_count <= cap or s.text_count == 1 for s in loaded.segments)
    held = {i: x for i, x in ids.items() if i not in (3, 7)}
    whole = RecitationIndex.build(sorted(held.items()), ENC)
    rng = np.random.default_rng(2)
    outputs = []
    for text_id in rng.choice(list(ids), 30):
        x = ids[int(text_id)]
        start = int(rng.integers(0, max(len(x) - 120, 1)))
        outputs.append(x[start:start + 120])
    assert _all_runs(loaded, outputs) == _all_runs(whole, outputs)
    assert sorted(loaded.text_ids.tolist()) == sorted(held)


def test_sources_kept_in_parts_are_read_for_the_texts_asked_only(tmp_path):
    """Sources saved in named parts: `sources_of` gives exactly what the whole mapping gives for the texts asked,
    without gathering the rest; a save of the loaded index links the parts, and a part name that is not a plain file
    name is refused."""
    import polars as pl

    from onett_text.recitation import SOURCE_PARTS, SourceParts

    docs = texts("ko_court_precedents", "precedents.jsonl.gz", limit=30)
    ids = [(n + 1, encode(t, ENC)) for n, t in enumerate(docs)]

    def rows(contributor: str, text_ids: list[int]) -> pl.DataFrame:
        return pl.DataFrame({"text_id": text_ids, "content_hash": [f"h{t}" for t in text_ids],
                             "contributor_id": [contributor] * len(text_ids),
                             "document_id": [f"{contributor}-{t}" for t in text_ids],
                             "file": [f"{contributor}.jsonl"] * len(text_ids), "position": text_ids,
                             "doc_id": [""] * len(text_ids)})

    # text 3 is held by both contributors: amy's part comes first, so it is hers, with both documents
    parts = {"amy": rows("amy", list(range(1, 16))), "bob": rows("bob", [3] + list(range(16, 31)))}
    catalog = pl.DataFrame({"part": list(parts), "rows": [len(f) for f in parts.values()]})
    folder = tmp_path / "guard"
    RecitationIndex.build(ids, ENC, SourceParts(catalog, parts)).save(folder)
    loaded = RecitationIndex.load(folder)
    asked = loaded.sources_of([3, 20, 999])
    assert loaded._sources is None  # nothing gathered beyond the rows asked for
    whole = RecitationIndex.load(folder).sources
    assert asked == {3: whole[3], 20: whole[20]} and len(whole) == 30
    assert asked[3]["contributor_id"] == "amy"
    assert [d["document_id"] for d in asked[3]["documents"]] == ["amy-3", "bob-3"]
    assert loaded.source(20)["documents"][0]["file"] == "bob.jsonl" and loaded.source(999) is None
    assert loaded.source_catalog().equals(catalog)

    inodes = {p.name: p.stat().st_ino for p in (folder.resolve() / SOURCE_PARTS).glob("*.parquet")}
    second = loaded.save(folder)
    assert {p.name: p.stat().st_ino for p in (second / SOURCE_PARTS).glob("*.parquet")
            if p.name != "catalog.parquet"} == {k: v for k, v in inodes.items() if k != "catalog.parquet"}
    with pytest.raises(ValueError, match="source part"):
        RecitationIndex.build(ids, ENC, SourceParts(pl.DataFrame({"part": ["../amy"]}),
                                                    {"../amy": parts["amy"]})).save(tmp_path / "other")
    assert sorted(p.name for p in tmp_path.iterdir() if "other" in p.name) == []  # no half-written generation
