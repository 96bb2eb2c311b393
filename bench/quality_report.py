"""Quality report: the real pipeline (`onett ingest` on a throwaway platform) over the shared corpora.

Prints one table: keep rate of clean long-form prose per corpus, removal rate of junk and generated filler,
exact and near-duplicate recall and precision on edition pairs and on copies with 3-10% of words changed,
and the tokens paid for reference text copied with small edits.

    .venv/bin/python bench/quality_report.py [--sample 300] [--corpora ../shared/corpora] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
SEOUL = ZoneInfo("Asia/Seoul")
PROSE = ["ko_court_precedents", "ko_laws", "ko_petitions", "en_state_of_the_union", "en_moby_dick"]


def load(corpora: Path, name: str, file: str | None = None) -> list[dict]:
    folder = corpora / name
    paths = [folder / file] if file else sorted(folder.glob("*.jsonl.gz"))
    docs = []
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            docs += [json.loads(line) for line in handle]
    return docs


def unique_texts(docs: list[dict]) -> list[dict]:
    seen, out = set(), []
    for d in docs:
        key = " ".join(d["text"].split())
        if key and key not in seen:
            seen.add(key)
            out.append(d)
    return out


# ---- generated junk (deterministic) -------------------------------------------------------------------

LOREM = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et "
         "dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea "
         "commodo consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur").split()


def random_hangul(rng: random.Random, words: int) -> str:
    return " ".join("".join(chr(rng.randint(0xAC00, 0xD7A3)) for _ in range(rng.randint(1, 5))) for _ in range(words))


def random_latin(rng: random.Random, words: int) -> str:
    return " ".join("".join(chr(rng.randint(97, 122)) for _ in range(rng.randint(2, 9))) for _ in range(words))


def word_salad(rng: random.Random, text: str) -> str:
    words = text.split()
    rng.shuffle(words)
    return " ".join(words)


def lorem(rng: random.Random, sentences: int) -> str:
    return " ".join(
        " ".join(rng.choice(LOREM) for _ in range(rng.randint(6, 14))).capitalize() + "." for _ in range(sentences)
    )


def keyword_stuffing(rng: random.Random, keywords: list[str], filler: list[str]) -> str:
    parts = [rng.choice(filler)]
    for _ in range(rng.randint(60, 120)):
        parts.append(rng.choice(keywords))
    parts.append(rng.choice(filler))
    return " ".join(parts)


def edit_words(rng: random.Random, text: str, rate: float, vocabulary: list[str]) -> str:
    """Replace, delete or insert `rate` of the words (a third each)."""
    words = text.split(" ")
    for _ in range(max(1, round(len(words) * rate))):
        i = rng.randrange(len(words))
        op = rng.randrange(3)
        if op == 0:
            words[i] = rng.choice(vocabulary)
        elif op == 1 and len(words) > 1:
            del words[i]
        else:
            words.insert(i, rng.choice(vocabulary))
    return " ".join(words)


# ---- the throwaway platform -----------------------------------------------------------------------------

class Platform:
    def __init__(self, home: Path):
        self.home = home
        home.mkdir(parents=True)
        shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
        os.environ.update({"DAGSTER_HOME": str(home), "ONETT_SETTLE_SECONDS": "0"})
        for key in [k for k in os.environ if k.startswith("ONETT_") and k != "ONETT_SETTLE_SECONDS"]:
            del os.environ[key]
        self.expect: dict[str, list] = defaultdict(list)

    def upload(self, contributor: str, name: str, docs: list[dict], when: datetime) -> None:
        path = self.home / "landing" / contributor / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            for d in docs:
                handle.write(json.dumps({"id": d["id"], "text": d["text"]}, ensure_ascii=False) + "\n")
        os.utime(path, (when.timestamp(), when.timestamp()))

    def reference(self, docs: list[dict]) -> None:
        folder = self.home / "reference"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "reference.jsonl", "w", encoding="utf-8") as handle:
            for d in docs:
                handle.write(json.dumps({"id": d["id"], "text": d["text"]}, ensure_ascii=False) + "\n")

    def ingest(self) -> str:
        sys.path.insert(0, str(ROOT))
        from onett_cli.main import main

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["ingest"])
        if code != 0:
            raise SystemExit(f"ingest failed:\n{out.getvalue()}")
        return out.getvalue()

    def query(self, sql: str, params=None) -> list[tuple]:
        import duckdb

        conn = duckdb.connect(str(self.home / "onett.duckdb"), read_only=True)
        try:
            return conn.execute(sql, params or []).fetchall()
        finally:
            conn.close()


def when(month: int, day: int = 5) -> datetime:
    return datetime(2026, month, day, 10, tzinfo=SEOUL)


def build(platform: Platform, corpora: Path, sample: int, seed: int) -> dict:
    rng = random.Random(seed)
    plan: dict = {"prose": {}, "junk": {}}

    # Clean long-form prose, one contributor per corpus (January).
    pools = {name: unique_texts(load(corpora, name)) for name in PROSE}
    held_back: dict[str, list[dict]] = {}
    for name, docs in pools.items():
        rng.shuffle(docs)
        take = docs[:sample] if len(docs) > 2 * sample else docs[: len(docs) // 2 or 1]
        held_back[name] = docs[len(take):]
        platform.upload(f"prose-{name}", "docs.jsonl.gz", take, when(1))
        plan["prose"][name] = len(take)

    # Junk (February): spam, raw HTML boilerplate, generated filler.
    spam = [d for d in load(corpora, "en_spamassassin_emails", "emails_body.jsonl.gz") if d.get("label") == "spam"]
    rng.shuffle(spam)
    junk = {
        "spam e-mail": spam[:sample],
        "raw HTML (libreoffice help)": load(corpora, "ko_libreoffice_help_html")[:sample],
        "raw HTML (web pages)": load(corpora, "web_boilerplate_samples", "warc_html_pages.jsonl.gz"),
    }
    korean = [d["text"] for d in held_back["ko_petitions"][:200] + held_back["ko_court_precedents"][:100]]
    english = [d["text"] for d in held_back["en_state_of_the_union"][:50] + held_back["en_moby_dick"][:50]]
    n = 100
    junk["random Hangul syllables"] = [{"id": f"rh{i}", "text": random_hangul(rng, rng.randint(80, 400))} for i in range(n)]
    junk["random Latin letters"] = [{"id": f"rl{i}", "text": random_latin(rng, rng.randint(80, 400))} for i in range(n)]
    junk["word salad (Korean)"] = [{"id": f"wk{i}", "text": word_salad(rng, korean[i % len(korean)])} for i in range(n)]
    junk["word salad (English)"] = [{"id": f"we{i}", "text": word_salad(rng, english[i % len(english)])} for i in range(n)]
    junk["lorem ipsum"] = [{"id": f"li{i}", "text": lorem(rng, rng.randint(5, 40))} for i in range(n)]
    sentences = [s for t in korean[:50] for s in re.split(r"(?<=[.!?])\s+", t) if len(s) > 20]
    keywords = ["최저가", "무료배송", "할인쿠폰", "대출", "즉시승인", "casino", "bonus", "다이어트", "보험비교"]
    junk["keyword stuffing"] = [
        {"id": f"ks{i}", "text": keyword_stuffing(rng, rng.sample(keywords, 3), sentences)} for i in range(n)
    ]
    junk["one line repeated"] = [
        {"id": f"rp{i}", "text": "\n".join([rng.choice(sentences)] * rng.randint(20, 80))} for i in range(n)
    ]
    junk["document repeated 3x"] = [
        {"id": f"dd{i}", "text": "\n\n".join([korean[(i * 7) % len(korean)]] * 3)} for i in range(n)
    ]
    for name, docs in junk.items():
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        platform.upload(f"junk-{slug}", "docs.jsonl.gz", docs, when(2))
        plan["junk"][name] = len(docs)

    # Edition pairs (March, April): KJV chapters, Gutenberg editions.
    debian = load(corpora, "en_kjv_two_editions", "kjv_debian_chapters.jsonl.gz")
    gutenberg = load(corpora, "en_kjv_two_editions", "kjv_gutenberg10900_chapters.jsonl.gz")
    platform.upload("kjv-debian", "kjv.jsonl.gz", debian, when(3))
    platform.upload("kjv-gutenberg", "kjv.jsonl.gz", gutenberg, when(4))
    plan["kjv"] = {"pairs": {g["id"]: d["id"] for d, g in zip(
        sorted(debian, key=lambda d: d["id"]), sorted(gutenberg, key=lambda d: d["id"]))},
        "identical": {g["id"] for d, g in zip(sorted(debian, key=lambda d: d["id"]), sorted(gutenberg, key=lambda d: d["id"]))
                      if " ".join(d["text"].split()) == " ".join(g["text"].split())}}
    editions = load(corpora, "en_gutenberg_editions")
    by_group: dict[str, list[dict]] = defaultdict(list)
    for e in editions:
        by_group[e["group"]].append(e)
    firsts = [docs[0] for docs in by_group.values()]
    laters = [d for docs in by_group.values() for d in docs[1:]]
    platform.upload("editions-first", "books.jsonl.gz", firsts, when(3))
    platform.upload("editions-later", "books.jsonl.gz", laters, when(4))
    plan["editions"] = {"group_of": {e["id"]: e["group"] for e in editions}, "later": len(laters)}

    # Copies with 3/5/10% of words changed (May originals, June copies), and reference copies.
    originals = (held_back["ko_petitions"][200:200 + sample // 2] + held_back["ko_court_precedents"][100:100 + sample // 2]
                 + held_back["en_state_of_the_union"][50:50 + sample // 6])
    originals = [{"id": f"orig-{i}", "text": d["text"]} for i, d in enumerate(originals) if len(d["text"].split()) >= 50]
    vocabulary = [w for d in originals for w in d["text"].split()[:50]]
    platform.upload("originals", "docs.jsonl.gz", originals, when(5))
    plan["copies"] = {}
    for rate in (0.03, 0.05, 0.10):
        copies = [{"id": f"copy{int(rate * 100)}-{d['id']}", "text": edit_words(rng, d["text"], rate, vocabulary)}
                  for d in originals]
        platform.upload(f"padder-{int(rate * 100)}pct", "docs.jsonl.gz", copies, when(6))
        plan["copies"][rate] = len(copies)

    reference = [{"id": f"ref-{i}", "text": d["text"]}
                 for i, d in enumerate(held_back["ko_court_precedents"][400:400 + sample // 3]
                                       + held_back["en_state_of_the_union"][100:110])
                 if len(d["text"].split()) >= 50]
    platform.reference(reference)
    edited = [{"id": f"refcopy-{d['id']}", "text": edit_words(rng, d["text"], rng.choice([0.01, 0.03, 0.05]), vocabulary)}
              for d in reference]
    platform.upload("reference-copier", "docs.jsonl.gz", edited, when(6))
    plan["reference"] = len(edited)
    return plan


def rate(numerator: int, denominator: int) -> str:
    return f"{100 * numerator / denominator:.1f}%" if denominator else "n/a"


def report(platform: Platform, plan: dict) -> list[dict]:
    rows = []

    def add(section, what, value, detail, target="", ok=None):
        rows.append({"section": section, "what": what, "value": value, "detail": detail, "target": target,
                     "met": "" if ok is None else ("yes" if ok else "NO")})

    stats = {c: (n, kept, acc) for c, n, kept, acc in platform.query(
        """SELECT contributor_id, count(*), count(*) FILTER (WHERE status <> 'rejected'),
                  count(*) FILTER (WHERE status = 'accepted') FROM documents GROUP BY 1""")}
    for name in PROSE:
        n, kept, accepted = stats.get(f"prose-{name}", (0, 0, 0))
        add("clean prose kept by the filters", name, rate(kept, n), f"{kept}/{n} (accepted after dedup {accepted})",
            ">= 97%", n and kept / n >= 0.97)
    for name in plan["junk"]:
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        n, kept, accepted = stats.get(f"junk-{slug}", (0, 0, 0))
        add("junk removed", name, rate(n - accepted, n), f"{n - accepted}/{n} (by filters {n - kept})", ">= 95%",
            n and (n - accepted) / n >= 0.95)
    tokens = dict(platform.query(
        "SELECT contributor_id, sum(tokens) FILTER (WHERE status = 'accepted') FROM documents GROUP BY 1"))

    # KJV: every Gutenberg chapter should be a duplicate of its Debian twin. Pairs where the filters removed
    # either side never reach dedup (they earn nothing anyway) and are counted apart.
    kjv = {d: (s, dup) for d, s, dup in platform.query(
        "SELECT doc_id, status, duplicate_of FROM documents WHERE contributor_id = 'kjv-gutenberg'")}
    debian = {doc_id: (pos, s) for doc_id, pos, s in platform.query(
        "SELECT doc_id, position, status FROM documents WHERE contributor_id = 'kjv-debian'")}
    pairs, identical = plan["kjv"]["pairs"], plan["kjv"]["identical"]
    judged = [d for d in pairs if kjv.get(d, ("rejected",))[0] != "rejected" and debian[pairs[d]][1] != "rejected"]

    def twin_of(doc):
        return f"kjv-debian/kjv.jsonl.gz#{debian[pairs[doc]][0]}"

    exact = [d for d in judged if d in identical]
    exact_found = sum(1 for d in exact if kjv[d] == ("duplicate", twin_of(d)))
    near_docs = [d for d in judged if d not in identical]
    near_found = sum(1 for d in near_docs if kjv[d][0] in ("duplicate", "near_duplicate") and kjv[d][1] == twin_of(d))
    flagged = [d for d in judged if kjv[d][0] in ("duplicate", "near_duplicate")]
    correct = sum(1 for d in flagged if kjv[d][1] == twin_of(d))
    add("exact duplicates", "KJV byte-identical chapters", rate(exact_found, len(exact)),
        f"{exact_found}/{len(exact)} ({len(pairs) - len(judged)} pairs removed by the filters first)", "100%",
        exact_found == len(exact))
    add("near duplicates", "KJV edition pairs (recall)", rate(near_found, len(near_docs)), f"{near_found}/{len(near_docs)}",
        ">= 95%", near_docs and near_found / len(near_docs) >= 0.95)
    add("near duplicates", "KJV edition pairs (precision)", rate(correct, len(flagged)), f"{correct}/{len(flagged)}",
        ">= 99%", flagged and correct / len(flagged) >= 0.99)

    group_of = plan["editions"]["group_of"]
    ids_by_pos = {(c, p): d for c, p, d in platform.query(
        "SELECT contributor_id, position, doc_id FROM documents WHERE contributor_id LIKE 'editions-%'")}
    later = platform.query("SELECT doc_id, status, duplicate_of FROM documents WHERE contributor_id = 'editions-later'")
    competing = [row for row in later if row[1] != "rejected"]
    hits = correct = 0
    for doc_id, status, dup in competing:
        if status in ("duplicate", "near_duplicate"):
            hits += 1
            contributor, _, pos = dup.partition("/")
            target = ids_by_pos.get((contributor, int(pos.rsplit("#", 1)[1])))
            correct += group_of.get(target) == group_of[doc_id]
    add("near duplicates", "Gutenberg editions (recall)", rate(hits, len(competing)),
        f"{hits}/{len(competing)} later editions ({len(later) - len(competing)} removed by the filters first)",
        ">= 95%", competing and hits / len(competing) >= 0.95)
    add("near duplicates", "Gutenberg editions (precision)", rate(correct, hits), f"{correct}/{hits} in the right book",
        ">= 99%", hits and correct / hits >= 0.99)

    originals = {p: d for p, d in platform.query("SELECT position, doc_id FROM documents WHERE contributor_id = 'originals'")}
    n_orig, kept_orig, acc_orig = stats.get("originals", (0, 0, 0))
    for copy_rate in plan["copies"]:
        contributor = f"padder-{int(copy_rate * 100)}pct"
        rows_ = platform.query("SELECT doc_id, status, duplicate_of FROM documents WHERE contributor_id = ?", [contributor])
        competing = [r for r in rows_ if r[1] != "rejected"]
        found = [r for r in competing if r[1] in ("duplicate", "near_duplicate")]
        right = sum(1 for d, _, dup in found if dup.startswith("originals/")
                    and originals.get(int(dup.rsplit("#", 1)[1])) == d.split("-", 1)[1])
        add("near duplicates", f"copies with {int(copy_rate * 100)}% of words changed (recall)",
            rate(len(found), len(competing)), f"{len(found)}/{len(competing)}", ">= 95%",
            competing and len(found) / len(competing) >= 0.95)
        add("near duplicates", f"copies with {int(copy_rate * 100)}% of words changed (precision)",
            rate(right, len(found)), f"{right}/{len(found)} point at their original", ">= 99%",
            found and right / len(found) >= 0.99)
    add("near duplicates", "originals wrongly flagged", rate(kept_orig - acc_orig, kept_orig),
        f"{kept_orig - acc_orig}/{kept_orig}", "0 expected", None)
    uploaded = platform.query(
        "SELECT sum(tokens) FROM documents WHERE contributor_id = 'reference-copier'")[0][0] or 0
    paid = tokens.get("reference-copier") or 0
    add("reference", "tokens paid for reference text with 1-5% edits", str(paid), f"of {uploaded} uploaded",
        "0", paid == 0)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument("--sample", type=int, default=300, help="documents per prose/junk corpus")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway platform and print its path")
    args = parser.parse_args()
    if not args.corpora.is_dir():
        print(f"no corpora at {args.corpora}", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="onett-quality-"))
    platform = Platform(workdir / "dagster_home")
    t0 = time.monotonic()
    plan = build(platform, args.corpora, args.sample, args.seed)
    t1 = time.monotonic()
    platform.ingest()
    t2 = time.monotonic()
    rows = report(platform, plan)
    sys.path.insert(0, str(ROOT))
    from onett_cli.tables import text_table

    print(text_table(["section", "what", "value", "detail", "target", "met"],
                     [[r["section"], r["what"], r["value"], r["detail"], r["target"], r["met"]] for r in rows]))
    print(f"\nbuilt in {t1 - t0:.0f}s, ingested in {t2 - t1:.0f}s (sample {args.sample}, seed {args.seed})")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, ensure_ascii=False, default=str))
    if args.keep:
        print(f"platform kept at {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(r["met"] != "NO" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
