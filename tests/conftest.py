"""A throwaway onett platform per test: its own DAGSTER_HOME, landing zone, revenue, reference and warehouse."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import random
import shutil
import zipfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT.parent / "shared" / "corpora"
SEOUL = ZoneInfo("Asia/Seoul")


def corpus(name: str, file: str, limit: int | None = None) -> list[dict]:
    """Documents of a shared corpus; the test is skipped cleanly where the corpora are absent."""
    path = CORPORA / name / file
    if not path.exists():
        pytest.skip(f"shared corpus {name}/{file} not available")
    docs = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            docs.append(json.loads(line))
            if limit and len(docs) >= limit:
                break
    return docs



def jsonl_zip(members: dict[str, list[dict] | bytes]) -> bytes:
    """A zip archive of JSONL members, one line per document (its `text`, and its position as `id`); a member given
    as bytes is stored as it is."""
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, docs in members.items():
            archive.writestr(name, docs if isinstance(docs, bytes) else "".join(
                json.dumps({"id": str(i), "text": d["text"]}, ensure_ascii=False) + "\n" for i, d in enumerate(docs)))
    return data.getvalue()


def seoul(*args) -> datetime:
    return datetime(*args, tzinfo=SEOUL)


class Testbed:
    def __init__(self, home: Path):
        self.home = home
        self.landing = home / "landing"
        self.revenue_dir = home / "revenue"
        self.reference_dir = home / "reference"
        self.warehouse = home / "onett.duckdb"

    def drop(self, contributor: str, name: str, content, when: datetime) -> Path:
        """Write an upload with the given submission (modification) time; docs lists become JSONL."""
        path = self.landing / contributor / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, list):
            content = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in content)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        os.utime(path, (when.timestamp(), when.timestamp()))
        return path

    def revenue(self, rows: list[tuple], name: str = "usage.csv") -> None:
        self.revenue_dir.mkdir(parents=True, exist_ok=True)
        lines = ["date,requests,input_tokens,output_tokens,revenue"] + [",".join(map(str, r)) for r in rows]
        (self.revenue_dir / name).write_text("\n".join(lines) + "\n")

    def reference(self, name: str, docs: list[dict]) -> None:
        self.reference_dir.mkdir(parents=True, exist_ok=True)
        (self.reference_dir / name).write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))

    def cli(self, *args: str) -> tuple[int, str]:
        from onett_cli.main import main

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(list(args))
        return code, out.getvalue()

    def ok(self, *args: str) -> str:
        code, out = self.cli(*args)
        assert code == 0, out
        return out

    def query(self, sql: str, params=None) -> list[tuple]:
        """Rows of `sql` on the warehouse, where `near_index_buckets` names the bucket shards' rows."""
        from onett_domain.credit import bucket_index

        conn = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            conn.execute(f"CREATE TEMP VIEW near_index_buckets AS {bucket_index.rows(conn).sql_query()}")
            return conn.execute(sql, params or []).fetchall()
        finally:
            conn.close()

    def session(self):
        from onett_cli.session import Session

        return Session()


@pytest.fixture
def onett(tmp_path, monkeypatch) -> Testbed:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    for key in list(os.environ):
        if key.startswith("ONETT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("ONETT_SETTLE_SECONDS", "0")
    return Testbed(home)


def _grams(text: str, n: int = 5) -> set[str]:
    import re

    squashed = re.sub(r"[\W_]+", "", text.lower())
    return {squashed[i:i + n] for i in range(len(squashed) - n + 1)}


def distinct_texts(name: str, file: str, count: int, limit: int = 400) -> list[str]:
    """`count` documents of a corpus that are not near copies of each other (exact character 5-gram Jaccard
    below 0.3, computed here independently of the platform): tests that need unrelated documents use these,
    since real corpora hold natural reposts."""
    chosen: list[tuple[str, set]] = []
    for doc in corpus(name, file, limit=limit):
        grams = _grams(doc["text"])
        if len(grams) < 50:
            continue
        if all(len(grams & g) / len(grams | g) < 0.3 for _, g in chosen):
            chosen.append((doc["text"], grams))
            if len(chosen) == count:
                break
    return [t for t, _ in chosen]


def edited_petitions(limit: int, copies: int, seed: int, word: str, at: int) -> list[str]:
    """`limit` petitions (with the corpus's own reposts), then edited copies of `copies` long ones: every 25th word
    (from the `at`-th) replaced by `word`, near copies the near-duplicate index must find."""
    docs = [d["text"] for d in corpus("ko_petitions", "petitions.jsonl.gz", limit=limit)]
    rng = random.Random(seed)
    edited = []
    for text in rng.sample([d for d in docs if len(d.split(" ")) >= 100], copies):
        edited.append(" ".join(word if i % 25 == at else w for i, w in enumerate(text.split(" "))))
    return docs + edited


def warehouse(path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A warehouse with the platform's schema and nothing else (in memory without `path`)."""
    from onett_resources.warehouse import SCHEMA

    conn = duckdb.connect(str(path) if path else ":memory:")
    conn.execute(SCHEMA)
    return conn
