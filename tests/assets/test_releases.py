"""Training releases, terms and erasure end to end through the `onett` command, on real corpus text: what a month's
release holds equals what its payouts bought, what leaves is listed, terms travel with the data, uploads wait for an
accepted agreement, and an erased upload's text is gone from every file on disk while the money still reconciles."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from conftest import distinct_texts, seoul

PETITIONS = "ko_petitions", "petitions.jsonl.gz"


def docs(texts: list[str], prefix: str) -> list[dict]:
    return [{"id": f"{prefix}{i}", "text": t} for i, t in enumerate(texts)]


def revenue(onett) -> None:
    onett.revenue([(date(2026, 9, 1) + timedelta(n), 10, 100, 50, "1000") for n in range(92)])


def releases_dir(onett) -> Path:
    return onett.home / "data" / "releases"


def manifest(onett, release_id: str) -> dict:
    return json.loads((releases_dir(onett) / release_id / "manifest.json").read_text())


def released(onett, release_id: str) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(releases_dir(onett) / release_id / s["file"])
                      for s in manifest(onett, release_id)["shards"]])


@pytest.fixture
def clock(monkeypatch):
    from onett_assets.assets import ingest

    def pin(when):
        monkeypatch.setattr(ingest, "observed_at", lambda: when.astimezone(timezone.utc))

    return pin


def test_release_holds_what_the_month_paid_for_and_lists_what_left(onett, clock):
    texts = distinct_texts(*PETITIONS, 14)
    onett.drop("alice", "keep.jsonl", docs(texts[0:5], "k"), seoul(2026, 9, 3, 10))
    onett.drop("alice", "gone.jsonl", docs(texts[5:9], "g"), seoul(2026, 9, 4, 10))
    onett.drop("bob", "b.jsonl", docs(texts[9:14] + texts[0:1], "b"), seoul(2026, 9, 10, 10))
    revenue(onett)
    onett.ok("ingest")
    onett.ok("close", "2026-09")  # the close cuts the month's release too
    first = manifest(onett, "2026-09-r1")
    ratios = dict(onett.query("SELECT contributor_id, tokens FROM contribution_ratios WHERE period = '2026-09-01'"))
    assert {c["contributor_id"]: c["tokens"] for c in first["contributors"]} == ratios
    rows = released(onett, "2026-09-r1")
    assert rows.height == first["documents"] == 14  # bob's copy of k0 is not in it
    assert dict(rows.group_by("contributor_id").agg(pl.col("tokens").sum()).iter_rows()) == ratios
    for shard in first["shards"]:  # the manifest's checksums are the files'
        import hashlib
        path = releases_dir(onett) / "2026-09-r1" / shard["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == shard["sha256"]
    # PII-masked, normalized text exactly as credited: the tokens are those of `documents`
    tokens = dict(onett.query("SELECT doc_id, tokens FROM documents WHERE status = 'accepted'"))
    assert sorted(rows["tokens"].to_list()) == sorted(tokens.values())
    assert set(rows["usage"]) == {"pretraining-only"}
    # cutting again without changes publishes nothing new
    onett.ok("release", "2026-09")
    assert sorted(p.name for p in releases_dir(onett).iterdir()) == ["2026-09-r1"]
    croissant = json.loads((releases_dir(onett) / "2026-09-r1" / "croissant.json").read_text())
    assert croissant["@type"] == "sc:Dataset" and "@context" in croissant
    assert {d["sha256"] for d in croissant["distribution"] if d.get("@type") == "cr:FileObject"} \
        == {s["sha256"] for s in first["shards"]}

    # alice withdraws gone.jsonl in October: October's release drops its documents and says so
    clock(seoul(2026, 10, 15, 12))
    (onett.landing / "alice" / "gone.jsonl").unlink()
    onett.ok("ingest")
    onett.ok("close", "2026-10")
    october = manifest(onett, "2026-10-r1")
    gone_ids = set(rows["document_id"]) - set(released(onett, "2026-10-r1")["document_id"])
    assert len(gone_ids) == 4 and set(october["removed"]["withdrawn"]) == gone_ids
    assert october["removed"]["since"] == "2026-09-r1"
    ratios = dict(onett.query("SELECT contributor_id, tokens FROM contribution_ratios WHERE period = '2026-10-01'"))
    assert {c["contributor_id"]: c["tokens"] for c in october["contributors"]} == ratios
    out = onett.ok("release")
    assert "2026-09-r1" in out and "2026-10-r1" in out


def test_terms_travel_with_the_data_and_expired_terms_leave_the_next_release(onett):
    texts = distinct_texts(*PETITIONS, 6)
    onett.drop("alice", "a.jsonl", docs(texts[0:3], "a"), seoul(2026, 9, 3, 10))
    onett.drop("alice", "short.jsonl", docs(texts[3:6], "s"), seoul(2026, 9, 3, 11))
    sidecar = onett.landing / "alice" / "short.jsonl.terms.json"
    sidecar.write_text(json.dumps({"usage": "pretraining-and-finetuning", "evaluation_allowed": True,
                                   "expires": "2026-10-20", "rights_attested": True}))
    revenue(onett)
    onett.ok("ingest")
    terms = dict(onett.query("SELECT file, terms FROM uploads"))
    assert json.loads(terms["short.jsonl"])["expires"] == "2026-10-20"
    assert json.loads(terms["a.jsonl"])["usage"] == "pretraining-only"
    onett.ok("close", "2026-09")
    september = released(onett, "2026-09-r1")
    short = september.filter(pl.col("document_id").is_in(
        september.filter(pl.col("usage") == "pretraining-and-finetuning")["document_id"]))
    assert short.height == 3 and short["evaluation_allowed"].all()
    assert short["terms_expire"].to_list() == [date(2026, 10, 20)] * 3
    card = (releases_dir(onett) / "2026-09-r1" / "README.md").read_text()
    assert "2026-10-20" in card
    # the terms end during October: the documents earn nothing in October and leave its release
    onett.ok("close", "2026-10")
    october = manifest(onett, "2026-10-r1")
    assert sorted(october["removed"]["expired"]) == sorted(short["document_id"].to_list())
    tokens = onett.query("SELECT tokens FROM contribution_ratios WHERE period = '2026-10-01'")[0][0]
    assert tokens == september.filter(pl.col("usage") == "pretraining-only")["tokens"].sum()


def test_uploads_wait_for_an_accepted_agreement_and_a_valid_sidecar(onett, tmp_path):
    texts = distinct_texts(*PETITIONS, 5)
    agreement = tmp_path / "agreement.md"
    agreement.write_text("You hold the rights to what you upload; it is used for pre-training only.")
    onett.drop("alice", "old.jsonl", docs(texts[4:5], "o"), datetime.now(timezone.utc) - timedelta(minutes=5))
    onett.ok("agreement", "publish", "1", str(agreement), "--by", "ops")
    # uploaded after the agreement was published (an upload from before it needs none)
    onett.drop("alice", "a.jsonl", docs(texts[0:2], "a"), datetime.now(timezone.utc))
    onett.drop("alice", "b.jsonl", docs(texts[2:4], "b"), datetime.now(timezone.utc))
    (onett.landing / "alice" / "b.jsonl.terms.json").write_text('{"usage": "research", "rights_attested": true}')
    onett.ok("ingest")
    rows = dict(onett.query("SELECT file, status || ': ' || error FROM uploads"))
    assert rows["a.jsonl"].startswith("waiting: waiting for the contributor to accept agreement version 1")
    assert rows["old.jsonl"].startswith("accepted")
    assert onett.query("SELECT doc_id FROM documents") == [("o0",)]
    out = onett.ok("statement", "alice")
    assert "waiting" in out
    # accepting lets a.jsonl in; b.jsonl waits for its sidecar, which names an unknown usage
    onett.ok("agreement", "accept", "alice", "--by", "ops")
    onett.ok("ingest")
    rows = dict(onett.query("SELECT file, status || ': ' || error FROM uploads"))
    assert rows["a.jsonl"].startswith("accepted")
    assert rows["b.jsonl"].startswith("waiting: terms: b.jsonl.terms.json: unknown usage 'research'")
    (onett.landing / "alice" / "b.jsonl.terms.json").write_text('{"usage": "pretraining-and-finetuning", '
                                                                 '"rights_attested": true}')
    onett.ok("ingest")
    terms = dict(onett.query("SELECT file, terms FROM uploads WHERE status = 'accepted'"))
    assert json.loads(terms["b.jsonl"])["agreement_version"] == "1"
    assert json.loads(terms["b.jsonl"])["source"] == "sidecar"
    assert onett.query("SELECT count(*) FROM documents WHERE status = 'accepted'") == [(5,)]


def _files_holding(root: Path, needle: str) -> list[str]:
    """Every file under `root` whose bytes hold `needle`, Parquet files read column by column (they compress)."""
    found = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        if needle.encode() in path.read_bytes():
            found.append(str(path))
        elif path.suffix == ".parquet":
            frame = pl.read_parquet(path)
            for name, dtype in frame.schema.items():
                if dtype == pl.String and frame[name].str.contains(needle, literal=True).any():
                    found.append(f"{path}:{name}")
    return found


def test_erasure_destroys_every_copy_and_the_money_still_reconciles(onett, clock):
    texts = distinct_texts(*PETITIONS, 8)
    secret = texts[4][:60]
    onett.drop("alice", "keep.jsonl", docs(texts[0:4], "k"), seoul(2026, 9, 3, 10))
    erased = onett.drop("alice", "secret.jsonl", docs(texts[4:8], "s"), seoul(2026, 9, 4, 10))
    backup = erased.read_bytes()
    revenue(onett)
    onett.ok("ingest")
    onett.ok("close", "2026-09")
    assert _files_holding(onett.home / "data", secret)  # raw and filtered parts, the release
    september_payouts = onett.query("SELECT * FROM payouts ORDER BY ALL")

    code, out = onett.cli("erase", "bob", "secret.jsonl", "--reason", "mine", "--by", "bob")
    assert code == 1 and "refused" in out  # bob holds no such file
    code, out = onett.cli("erase", "alice", "nothing.jsonl", "--reason", "typo", "--by", "alice")
    assert code == 1 and "refused" in out
    clock(seoul(2026, 10, 2, 9))
    onett.ok("erase", "alice", "secret.jsonl", "--reason", "personal data", "--by", "alice")
    assert _files_holding(onett.home, secret) == []  # storage, archive, releases, warehouse, Dagster's files
    statuses = dict(onett.query("SELECT file, status FROM uploads"))
    assert statuses["secret.jsonl"] == "erased"
    (count, tokens), = onett.query("SELECT count(*), sum(tokens) FROM documents WHERE erased_at IS NOT NULL")
    assert count == 4 and tokens > 0  # ids, hashes and token counts stay: September's payouts are explained
    assert onett.query("SELECT * FROM payouts ORDER BY ALL") == september_payouts
    redacted = manifest(onett, "2026-09-r1")
    assert len(redacted["redactions"][0]["document_ids"]) == 4 and redacted["documents"] == 4
    onett.ok("statement", "alice", "--month", "2026-09")
    onett.ok("close", "2026-10")
    october = manifest(onett, "2026-10-r1")
    assert len(october["removed"]["erased"]) == 4
    assert onett.query("SELECT tokens FROM contribution_ratios WHERE period = '2026-10-01'")[0][0] == \
        onett.query("SELECT sum(tokens) FROM documents WHERE doc_id LIKE 'k%'")[0][0]

    # a restored backup of the landing zone does not bring it back
    onett.drop("alice", "secret.jsonl", backup.decode(), seoul(2026, 9, 4, 10))
    onett.ok("ingest")
    assert _files_holding(onett.home / "data", secret) == []
    assert ("secret.jsonl", "erased") in onett.query("SELECT file, status FROM uploads WHERE withdrawn_at IS NULL")


def test_an_interrupted_release_leaves_nothing_visible(onett, monkeypatch):
    from onett_resources import release_store

    texts = distinct_texts(*PETITIONS, 4)
    onett.drop("alice", "a.jsonl", docs(texts, "a"), seoul(2026, 9, 3, 10))
    revenue(onett)
    onett.ok("ingest")

    def broken(self, rows):
        raise OSError("disk full")

    working = release_store.ShardWriter.write
    monkeypatch.setattr(release_store.ShardWriter, "write", broken)
    code, out = onett.cli("close", "2026-09")
    assert code == 1 and "disk full" in out
    assert [p.name for p in releases_dir(onett).iterdir()] == []  # not even a hidden half-written folder
    monkeypatch.setattr(release_store.ShardWriter, "write", working)
    onett.ok("release", "2026-09")
    assert manifest(onett, "2026-09-r1")["documents"] == 4
