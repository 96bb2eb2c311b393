"""`onett demo`: a small, real landing zone (Korean and English, several contributors and months, a few
copies and some public text), the consumer's revenue, the partners' own API usage (1T Club credit) and a
reference corpus, so a new user sees it all work.

Texts are public-domain or CC0 samples of the team's corpora (see data/SOURCE.md)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

import polars as pl

from onett_resources.settings import Settings

DATA = Path(__file__).parent / "data"


def _load(name: str) -> list[dict]:
    with gzip.open(DATA / f"{name}.jsonl.gz", "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _months_back(today: date, n: int) -> date:
    year, month = today.year, today.month - n
    while month < 1:
        year, month = year - 1, month + 12
    return date(year, month, 1)


def _jsonl(docs: list[dict]) -> bytes:
    return "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs).encode()


def build_demo(settings: Settings, now: datetime | None = None) -> dict:
    """Writes the demo files with modification times spread over the last three months; idempotent."""
    now = (now or datetime.now(settings.policy.tz)).astimezone(settings.policy.tz)
    today = now.date()
    m0, m1, m2 = (_months_back(today, n) for n in (2, 1, 0))
    petitions, precedents = _load("ko_petitions"), _load("ko_court_precedents")
    speeches, chapters = _load("en_state_of_the_union"), _load("en_moby_dick")

    def at(month: date, day: int, hour: int = 10) -> float:
        moment = datetime.combine(month.replace(day=min(day, 28)), time(hour), tzinfo=settings.policy.tz)
        return min(moment, now - timedelta(minutes=5)).timestamp()

    files: list[tuple[str, bytes, float]] = []

    def add(path: str, data: bytes, mtime: float) -> None:
        files.append((path, data, mtime))

    # A Korean publisher: petitions in two months, the second batch as a zip archive.
    add("한빛출판사/2024-petitions-part1.jsonl", _jsonl(petitions[:15]), at(m0, 3))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        # a fixed member time: the same demo files, byte for byte, whenever they are written
        member = zipfile.ZipInfo("petitions/part2.jsonl", date_time=(m1.year, m1.month, 5, 10, 0, 0))
        z.writestr(member, _jsonl(petitions[15:30]), compress_type=zipfile.ZIP_DEFLATED)
    add("한빛출판사/petitions-part2.zip", archive.getvalue(), at(m1, 5))
    # A legal research group: precedents as Markdown files, then a CSV export.
    for doc in precedents[:7]:
        add(f"판례연구회/{doc['id']}.md", doc["text"].encode(), at(m0, 12))
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["id", "text"])
    writer.writerows([[d["id"], d["text"]] for d in precedents[7:14]])
    add("판례연구회/precedents-export.csv", table.getvalue().encode(), at(m1, 20))
    # An English reading club: Moby Dick chapters, gzipped JSONL then Parquet in the month in progress.
    add("moby-dick-club/chapters-1.jsonl.gz", gzip.compress(_jsonl(chapters[:8]), mtime=0), at(m0, 25))
    parquet = io.BytesIO()
    pl.DataFrame({"id": [c["id"] for c in chapters[8:16]], "text": [c["text"] for c in chapters[8:16]]}).write_parquet(parquet)
    add("moby-dick-club/chapters-2.parquet", parquet.getvalue(), at(m2, 2))
    # An archive of speeches: two of them are public on the web (in the reference corpus) and earn nothing.
    for doc in speeches[:4]:
        add(f"sotu-archive/{doc['id']}.txt", doc["text"].encode(), at(m1, 8))
    # A later uploader copying the publisher's petitions and one chapter: the first uploader keeps the credit.
    add("copy-desk/found-online.jsonl", _jsonl(petitions[:3] + chapters[:1]), at(m1, 27))
    # ... a court decision with every 20th word changed (a near copy), and machine filler: both earn nothing.
    words = precedents[0]["text"].split(" ")
    edited = " ".join("그리고" if i % 20 == 19 else w for i, w in enumerate(words))
    add("copy-desk/precedent-edited.txt", edited.encode(), at(m1, 28))
    stuffing = " ".join(["최저가 무료배송 할인쿠폰 즉시승인"] * 60)
    add("copy-desk/promotion.txt", f"오늘만 특별 행사입니다. {stuffing} 지금 바로 연락주세요.".encode(), at(m1, 28))

    # The reading club allows fine-tuning and evaluation too: a terms sidecar beside its first file.
    add("moby-dick-club/chapters-1.jsonl.gz.terms.json",
        b'{"usage": "pretraining-and-finetuning", "evaluation_allowed": true, "rights_attested": true}\n', at(m0, 25))

    for rel, data, mtime in files:
        path = settings.landing_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_bytes() != data:
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        os.utime(path, (mtime, mtime))

    settings.reference_dir.mkdir(parents=True, exist_ok=True)
    reference = settings.reference_dir / "public-web-sample.jsonl"
    reference_data = _jsonl([{"id": d["id"], "text": d["text"]} for d in speeches[2:4]])
    if not reference.exists() or reference.read_bytes() != reference_data:
        reference.write_bytes(reference_data)

    settings.revenue_dir.mkdir(parents=True, exist_ok=True)
    days = [m0 + timedelta(n) for n in range((today - m0).days)]  # up to yesterday
    lines = ["date,requests,input_tokens,output_tokens,revenue"]
    for n, day in enumerate(days):
        requests = 40_000 + 350 * n + (6_000 if day.weekday() < 5 else -9_000)
        input_tokens, output_tokens = requests * 812, requests * 305
        revenue = (input_tokens * 3 + output_tokens * 12) // 1000  # KRW per 1k tokens, whole won
        lines.append(f"{day},{requests},{input_tokens},{output_tokens},{revenue}")
    revenue_file = settings.revenue_dir / "api-usage-demo.csv"
    revenue_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _usage_feed(settings, [m0 + timedelta(n) for n in range((today - m0).days)])
    return {
        "files": len([f for f in files if not f[0].endswith(".terms.json")]),
        "contributors": sorted({rel.split("/")[0] for rel, _, _ in files}),
        "months": [m0.strftime("%Y-%m"), m1.strftime("%Y-%m"), m2.strftime("%Y-%m")],
        "revenue_days": len(days),
    }


def _usage_feed(settings: Settings, days: list[date]) -> None:
    """The partners' own API usage (1T Club credit): the publisher and the reading club by contributor id, the
    legal research group through two API keys; a weekday's use is a few thousand tokens."""
    folder = settings.usage_dir or settings.home / "usage"
    (folder / "keys").mkdir(parents=True, exist_ok=True)
    by_id, by_key = ["date,contributor_id,input_tokens,output_tokens"], ["date,api_key,input_tokens,output_tokens"]
    for n, day in enumerate(days):
        if day.weekday() < 5:
            by_id.append(f"{day},한빛출판사,{900 + 37 * (n % 7)},{310 + 11 * (n % 5)}")
            by_key.append(f"{day},demo-key-precedents-1,{420 + 13 * (n % 3)},{160}")
        if day.weekday() == 5:
            by_id.append(f"{day},moby-dick-club,{2_400 + 50 * (n % 4)},{900}")
            by_key.append(f"{day},demo-key-precedents-2,{150},{60}")
    (folder / "partner-usage-demo.csv").write_text("\n".join(by_id) + "\n", encoding="utf-8")
    (folder / "keys" / "api-usage-by-key-demo.csv").write_text("\n".join(by_key) + "\n", encoding="utf-8")
    (folder / "keys" / "api_keys.csv").write_text(
        "api_key,contributor_id\ndemo-key-precedents-1,판례연구회\ndemo-key-precedents-2,판례연구회\n",
        encoding="utf-8")
