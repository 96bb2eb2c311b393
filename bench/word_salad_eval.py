"""Korean word salad: the word-order score (word_order.py) on every Korean corpus and on shuffled text, by length.

    .venv/bin/python bench/word_salad_eval.py [--corpora ../shared/corpora] [--seed 1] [--court 2000]

Prints, per length band (words):
- the percentiles of `word_order_score` of every Korean corpus of ../shared/corpora (each text once), and of
  shuffled Korean made from ko_petitions, ko_court_precedents (the first --court documents) and the news comments
  of 20+ words, pooled over the shufflers below;
- then, with the rules' thresholds (onett_text/quality/rules.py), the documents of each corpus the word_salad rules
  remove (they are honest text: every one is a false positive), and the share of each kind of shuffled text they
  remove (alone, and with every rule).

Shufflers (deterministic for --seed), none of them used to fit the table:
- report: all words in random order, one line (bench/quality_report.py);
- junk_lines / junk_prose: bench/junk.py's word_salad with keep_lines True / False (prose: new sentences, commas);
- in_sentence: words shuffled within each sentence; in_line: within each line;
- punct_in_place: bare words shuffled, punctuation left where it was (a '.' follows whatever lands there);
- keep_finals: every word that ends a sentence or a line stays, the others are shuffled.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import junk  # noqa: E402
from onett_text.language import detect_language  # noqa: E402
from onett_text.normalize import normalize_text  # noqa: E402
from onett_text.quality import RULES, THRESHOLDS, apply_rules, measured  # noqa: E402

CORPORA = {  # every Korean corpus: (folder, files, field)
    "court": ("ko_court_precedents", ["precedents.jsonl.gz"], "text"),
    "laws": ("ko_laws", ["laws.jsonl.gz"], "text"),
    "petitions": ("ko_petitions", ["petitions.jsonl.gz"], "text"),
    "nsmc_reviews": ("ko_nsmc_reviews", ["reviews.jsonl.gz"], "text"),
    "news_comments": ("ko_news_comments_hate", ["comments.jsonl.gz"], "text"),
    "chatbot_qa": ("ko_chatbot_qa", ["chatbot_qa.jsonl.gz"], "text"),
    "klue_sentences": ("ko_klue_sentences", ["klue_sentences.jsonl.gz"], "text"),
    "news_parallel": ("ko_en_news_parallel", ["news_ko_en.jsonl.gz"], "text"),
    "paraphrase": ("ko_paraphrase_neardup", None, ("text_a", "text_b", "text")),
    "libreoffice_text": ("ko_libreoffice_help_html", ["help_pages.jsonl.gz"], "extracted_text"),
}
BANDS = [(20, 30), (30, 50), (50, 100), (100, 200), (200, 10**9)]
SALAD_RULES = [r for r in RULES if r.name.startswith("word_salad")]
SENTENCE = re.compile(r"(?<=[.!?])\s+")
TRAILING = re.compile(r"^(.*?)([.,!?…;:]+)$")


def read(corpora: Path, folder: str, files: list[str] | None, field) -> list[str]:
    paths = [corpora / folder / f for f in files] if files else sorted((corpora / folder).glob("*.jsonl.gz"))
    fields = field if isinstance(field, tuple) else (field,)
    seen, out = set(), []
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for doc in map(json.loads, handle):
                for f in fields:
                    text = doc.get(f)
                    key = " ".join(text.split()) if isinstance(text, str) else ""
                    if key and key not in seen:
                        seen.add(key)
                        out.append(text)
    return out


def report(rng: random.Random, text: str) -> str:
    words = text.split()
    rng.shuffle(words)
    return " ".join(words)


def in_sentence(rng: random.Random, text: str) -> str:
    lines = []
    for line in text.split("\n"):
        parts = []
        for sentence in SENTENCE.split(line):
            words = sentence.split()
            rng.shuffle(words)
            parts.append(" ".join(words))
        lines.append(" ".join(parts))
    return "\n".join(lines)


def in_line(rng: random.Random, text: str) -> str:
    lines = []
    for line in text.split("\n"):
        words = line.split()
        rng.shuffle(words)
        lines.append(" ".join(words))
    return "\n".join(lines)


def _relayout(lines: list[list[str]], words: list[str]) -> str:
    out, at = [], 0
    for line in lines:
        out.append(" ".join(words[at : at + len(line)]))
        at += len(line)
    return "\n".join(out)


def punct_in_place(rng: random.Random, text: str) -> str:
    lines = [line.split() for line in text.split("\n")]
    bare, marks = [], []
    for word in (w for line in lines for w in line):
        m = TRAILING.match(word)
        bare.append(m.group(1) if m and m.group(1) else word)
        marks.append(m.group(2) if m and m.group(1) else "")
    rng.shuffle(bare)
    return _relayout(lines, [b + m for b, m in zip(bare, marks)])


def keep_finals(rng: random.Random, text: str) -> str:
    lines = [line.split() for line in text.split("\n")]
    words = [w for line in lines for w in line]
    fixed, at = set(), 0
    for line in lines:
        fixed |= {at + k for k, w in enumerate(line) if k == len(line) - 1 or w[-1:] in ".!?"}
        at += len(line)
    movable = [w for i, w in enumerate(words) if i not in fixed]
    rng.shuffle(movable)
    it = iter(movable)
    return _relayout(lines, [w if i in fixed else next(it) for i, w in enumerate(words)])


def numpy_rng(rng: random.Random) -> np.random.Generator:
    return np.random.default_rng(rng.randrange(1 << 30))


SHUFFLERS = {
    "report": report,
    "junk_lines": lambda rng, t: junk.word_salad(numpy_rng(rng), t, keep_lines=True),
    "junk_prose": lambda rng, t: junk.word_salad(numpy_rng(rng), t, keep_lines=False),
    "in_sentence": in_sentence,
    "in_line": in_line,
    "punct_in_place": punct_in_place,
    "keep_finals": keep_finals,
}


def judged(texts: list[str]) -> pl.DataFrame:
    frame = detect_language(pl.DataFrame({"text": texts}, schema={"text": pl.String}).select(normalize_text(pl.col("text"))))
    frame = frame.filter(pl.col("language") == "ko")
    alone = apply_rules(frame, SALAD_RULES)["rejected_by"]
    return measured(frame).select("words", "word_order_score").with_columns(
        salad=alone != "", rejected=apply_rules(frame)["rejected_by"] != "")


def percentiles(x: np.ndarray) -> str:
    if len(x) < 20:
        return f"n={len(x)}"
    p = np.percentile(x, [0.5, 1, 5, 50, 95, 99, 99.5])
    return f"n={len(x):6d} min {x.min():+.3f} " + " ".join(f"{v:+.3f}" for v in p) + f" max {x.max():+.3f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--court", type=int, default=2000, help="court decisions to shuffle")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    texts = {name: read(args.corpora, *spec) for name, spec in CORPORA.items()}
    honest = {name: judged(t) for name, t in texts.items()}
    sources = {"petitions": texts["petitions"], "court": texts["court"][: args.court],
               "comments": [t for t in texts["news_comments"] if len(t.split()) >= 20]}
    salad = {(g, s): judged([fn(rng, t) for t in src]) for g, fn in SHUFFLERS.items() for s, src in sources.items()}

    print(f"thresholds: " + ", ".join(f"{r.name} (from {r.min_words} words) {THRESHOLDS[r.name]}" for r in SALAD_RULES))
    print("\nword_order_score: min p0.5 p1 p5 p50 p95 p99 p99.5 max")
    for lo, hi in BANDS:
        print(f"--- {lo}-{hi if hi < 10**9 else ''} words")
        band = lambda f: f.filter((pl.col("words") >= lo) & (pl.col("words") < hi))  # noqa: E731
        for name, f in honest.items():
            if band(f).height:
                print(f"  {name:18s} {percentiles(band(f)['word_order_score'].to_numpy())}")
        for s in sources:
            pooled = np.concatenate([band(salad[g, s])["word_order_score"].to_numpy() for g in SHUFFLERS])
            print(f"  SHUFFLED {s:9s} {percentiles(pooled)}")

    print("\nhonest text removed by the word_salad rules (documents of 20+ words, all documents):")
    for name, f in honest.items():
        long = f.filter(pl.col("words") >= 20)
        print(f"  {name:18s} {int(f['salad'].sum()):5d} of {long.height:6d} ({100 * f['salad'].sum() / max(long.height, 1):.2f}%)"
              f" of {f.height:7d} ({100 * f['salad'].sum() / max(f.height, 1):.3f}%)")
    print("\nshuffled text removed (by the word_salad rules alone / by all rules), all lengths:")
    for g in SHUFFLERS:
        print(f"  {g:15s} " + "  ".join(f"{s}: {100 * salad[g, s]['salad'].mean():.1f}% / {100 * salad[g, s]['rejected'].mean():.1f}%"
                                       for s in sources))
    pet = salad["report", "petitions"]
    print("\nreport-style shuffle of petitions, kept by all rules, by length: " + ", ".join(
        f"{lo}-{hi if hi < 10**9 else ''}: {int((~band['rejected']).sum())}/{band.height}"
        for (lo, hi), band in ((b, pet.filter((pl.col('words') >= b[0]) & (pl.col('words') < b[1]))) for b in [(0, 20)] + BANDS)))


if __name__ == "__main__":
    main()
