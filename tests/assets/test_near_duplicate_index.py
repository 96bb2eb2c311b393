"""The near-duplicate index's bucket files after `onett ingest`, on real petitions: submissions add a file per
shard and never merge; the index update after them merges files of one size, and a near copy submitted later is
still found against texts whose files were merged."""

from __future__ import annotations

from dagster import AssetKey

from conftest import distinct_texts, seoul
from onett_domain.credit import bucket_index, sorted_buckets

PETITIONS = "ko_petitions", "petitions.jsonl.gz"


def _edited(text: str) -> str:
    words = text.split(" ")
    return " ".join("바뀐말" if i % 30 == 7 else w for i, w in enumerate(words))


def test_ingest_merges_the_submissions_bucket_files_after_them_and_still_finds_near_copies(onett, monkeypatch):
    monkeypatch.setattr(bucket_index, "LOOKUP_ROWS", 0)  # the late copy's buckets looked up, in an index this small
    texts = [t for t in distinct_texts(*PETITIONS, 40, limit=1500) if len(t.split(" ")) >= 120][:25]
    assert len(texts) == 25
    for i in range(5):  # five contributors, five submissions: five files in every shard
        onett.drop(f"c{i}", "p.jsonl", [{"id": f"{i}-{j}", "text": t} for j, t in enumerate(texts[i * 5:i * 5 + 5])],
                   seoul(2026, 9, 1 + i, 10))
    out = onett.ok("ingest")
    assert "near-duplicate index: 32 files (16 merged now)" in out, out
    event = onett.session().instance.get_latest_materialization_event(AssetKey("near_duplicate_index"))
    metadata = {k: v.value for k, v in event.asset_materialization.metadata.items()}
    assert metadata["merges"] == bucket_index.SHARDS and metadata["files removed"] == 4 * bucket_index.SHARDS
    assert metadata["files sorted for lookups"] == 2 * bucket_index.SHARDS
    assert metadata["rows rewritten"] == onett.query("SELECT count(*) FROM near_index_buckets")[0][0] \
        - onett.query("SELECT coalesce(sum(rows), 0) FROM near_index_files WHERE file LIKE '%-add-%'")[0][0]
    listed = {onett.home / "onett.near-index" / f for (f,) in onett.query("SELECT file FROM near_index_files")}
    assert set((onett.home / "onett.near-index").glob("shard=*/*.parquet")) == listed
    for suffix in (sorted_buckets.SORTED, sorted_buckets.FILTER):
        assert {p.with_name(p.name.replace(suffix, ".parquet"))
                for p in (onett.home / "onett.near-index").glob(f"shard=*/*{suffix}")} == listed

    # a later near copy of a text whose bucket rows now sit in merged files, found by looking its buckets up
    onett.drop("late", "copy.jsonl", [{"id": "x", "text": _edited(texts[2])}], seoul(2026, 9, 20, 10))
    looked_up, lookup = [], sorted_buckets.lookup
    monkeypatch.setattr(sorted_buckets, "lookup", lambda *args: looked_up.append(lookup(*args)) or looked_up[-1])
    onett.ok("ingest")
    assert looked_up == [True]
    (status, duplicate_of), = onett.query("SELECT status, duplicate_of FROM documents WHERE contributor_id = 'late'")
    assert (status, duplicate_of) == ("near_duplicate", "c0/p.jsonl#3")  # its third line
