"""Recall and precision of near-duplicate detection (onett_text/minhash.py) on real text.

    .venv/bin/python bench/near_dedup_eval.py                       # the module's parameters
    .venv/bin/python bench/near_dedup_eval.py --ngram 6 --threshold 0.45 --num-perm 128 --bands 32   # an alternative

Every pair is decided the way the pipeline decides it: candidates are documents sharing a (band, key) of
`band_keys`, and a candidate is flagged when `similarity >= threshold`. Precision counts ALL flagged pairs,
not only the ground-truth positives. A flagged pair outside the ground truth counts as a false positive
unless the two (original) documents are themselves near-duplicates by the exact rule, i.e. the exact Jaccard
of their shingle sets is >= threshold: such pairs (ko_petitions reposts, template court decisions, 2 Kings 19
and Isaiah 37 in the KJV) are listed in the column `natural` and are neither true nor false positives.
Pairs with a document too short for MinHash (not `eligible`) are never flagged; positives among them count
as misses, except in (d), which reports them separately.

(a) en_kjv_two_editions: the 1,189 chapters in two editions; positives = the same chapter in both editions.
(b) en_gutenberg_editions: positives = two editions of the same book (31 pairs); all other pairs negative.
(c) Synthetic copies: N originals (seeded sample of eligible docs) of ko_petitions, ko_court_precedents and
    en_state_of_the_union; for each, a copy with 3%, 5% or 10% of its words edited (each edit at random a
    replacement by, a deletion, or an insertion of a random word of the same corpus). One run per level over
    originals + copies; positives = (original, its copy).
(d) ko_paraphrase_neardup, reported, not tuned for: sentence-level paraphrases and spelling variants. In the
    pair files, `natural` counts negatively labelled pairs whose two texts are identical after normalization.
(e) Short Korean texts (ko_klue_sentences, ko_news_comments_hate) by shingle count, 10% copies (at least one
    word), scored with every text eligible: what MIN_SHINGLES gives up below it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from onett_text import minhash as nd  # noqa: E402
from onett_text.normalize import normalize_text  # noqa: E402

CORPORA = ROOT.parent / "shared" / "corpora"
SHOW = False  # --show: print every false positive and false negative of (a)-(c) to stderr


def load(name: str, file: str) -> list[dict]:
    with gzip.open(CORPORA / name / file, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def normalized(texts: list[str]) -> list[str]:
    frame = pl.DataFrame({"text": texts}, schema={"text": pl.String})
    return frame.select(normalize_text(pl.col("text")))["text"].to_list()


class Detector:
    """The module's procedure with the parameters under test."""

    def __init__(self, ngram: int, num_perm: int, bands: int, threshold: float, min_shingles: int):
        self.ngram, self.num_perm, self.bands = ngram, num_perm, bands
        self.threshold, self.min_shingles = threshold, min_shingles

    def signatures(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return nd._signatures(texts, self.ngram, self.num_perm, self.min_shingles)

    def flagged(self, sigs: np.ndarray, eligible: np.ndarray) -> set[tuple[int, int]]:
        """Pairs (i < j) of eligible rows sharing a band key and with similarity >= threshold.

        Also sets `self.candidates`: how many pairs the bands proposed (the verification work)."""
        rows = np.flatnonzero(eligible)
        keys = nd._band_keys(sigs[rows], self.bands)
        candidates: set[tuple[int, int]] = set()
        for band in range(self.bands):
            order = np.argsort(keys[:, band], kind="stable")
            column = keys[order, band]
            cuts = np.flatnonzero(np.diff(column)) + 1
            for bucket in np.split(order, cuts):
                if len(bucket) > 1:
                    members = sorted(rows[bucket].tolist())
                    candidates.update((a, b) for k, a in enumerate(members) for b in members[k + 1 :])
        self.candidates = len(candidates)
        if not candidates:
            return set()
        pairs = np.array(sorted(candidates))
        keep = nd.similarity(sigs[pairs[:, 0]], sigs[pairs[:, 1]]) >= self.threshold
        return {(int(a), int(b)) for a, b in pairs[keep]}

    def pair_flags(self, sigs_a: np.ndarray, sigs_b: np.ndarray) -> np.ndarray:
        """For aligned rows: would the LSH + threshold procedure flag (a_i, b_i)?"""
        shared = (nd._band_keys(sigs_a, self.bands) == nd._band_keys(sigs_b, self.bands)).any(axis=1)
        return shared & (nd.similarity(sigs_a, sigs_b) >= self.threshold)

    def exact_jaccard(self, a: str, b: str) -> float:
        """Jaccard of the two exact shingle sets (the 32-bit shingle hashes the signatures are built from)."""
        hashes, counts = nd._shingle_hashes([a, b], self.ngram)
        x, y = np.unique(hashes[: counts[0]]), np.unique(hashes[counts[0] :])
        union = len(np.union1d(x, y))
        return len(np.intersect1d(x, y)) / union if union else 1.0


class Row:
    def __init__(self, name: str):
        self.name, self.positives, self.tp, self.fp, self.natural, self.note = name, 0, 0, 0, 0, ""
        self.candidates: int | str = ""

    def cells(self) -> list[str]:
        recall = self.tp / self.positives if self.positives else float("nan")
        flagged = self.tp + self.fp
        precision = self.tp / flagged if flagged else float("nan")
        return [self.name, str(self.positives), str(self.tp), str(self.positives - self.tp), str(self.fp),
                str(self.natural), str(self.candidates), f"{recall:.2%}", f"{precision:.2%}", self.note]


def score(det: Detector, name: str, texts: list[str], origin: list[int], positives: set[tuple[int, int]],
          originals: list[str]) -> tuple[Row, set[tuple[int, int]]]:
    """One LSH run over `texts`. origin[i] = index of the original document text i derives from (for the
    natural-duplicate rule); `positives` = ground-truth pairs (i < j) of indexes into texts."""
    sigs, eligible = det.signatures(texts)
    flagged = det.flagged(sigs, eligible)
    row = Row(name)
    row.positives, row.tp, row.candidates = len(positives), len(flagged & positives), det.candidates
    exact: dict[tuple[int, int], float] = {}
    for a, b in flagged - positives:
        key = (min(origin[a], origin[b]), max(origin[a], origin[b]))
        if key not in exact:
            exact[key] = det.exact_jaccard(originals[key[0]], originals[key[1]])
        if exact[key] >= det.threshold:
            row.natural += 1
        else:
            row.fp += 1
            if SHOW:
                est = float(nd.similarity(sigs[[a]], sigs[[b]])[0])
                print(f"  FP {name}: estimated {est:.3f}, exact originals {exact[key]:.3f}:"
                      f" {texts[a][:60]!r} / {texts[b][:60]!r}", file=sys.stderr)
    if SHOW:
        for a, b in sorted(positives - flagged):
            est = float(nd.similarity(sigs[[a]], sigs[[b]])[0])
            print(f"  FN {name}: estimated {est:.3f}, exact {det.exact_jaccard(texts[a], texts[b]):.3f},"
                  f" eligible {eligible[a]}/{eligible[b]}, {len(texts[a])} chars: {texts[a][:60]!r}", file=sys.stderr)
    return row, flagged


def kjv(det: Detector) -> list[Row]:
    deb = load("en_kjv_two_editions", "kjv_debian_chapters.jsonl.gz")
    pg = {(d["book_no"], d["chapter"]): d for d in load("en_kjv_two_editions", "kjv_gutenberg10900_chapters.jsonl.gz")}
    a = normalized([d["text"] for d in deb])
    b = normalized([pg[(d["book_no"], d["chapter"])]["text"] for d in deb])
    n = len(a)
    rows = [score(det, "(a) KJV: 2 x 1189 chapters", a + b, list(range(2 * n)), {(i, i + n) for i in range(n)}, a + b)[0]]
    # Second run: all Debian chapters + only the Gutenberg chapters whose text differs (after normalization).
    differing = [i for i in range(n) if a[i] != b[i]]
    texts = a + [b[i] for i in differing]
    positives = {(i, n + k) for k, i in enumerate(differing)}
    origin = list(range(n)) + [n + k for k in range(len(differing))]
    rows.append(score(det, f"(a) KJV: 1189 + {len(differing)} differing chapters", texts, origin, positives, texts)[0])
    rows[-1].note = "positives: the non-identical pairs"
    return rows


def gutenberg(det: Detector) -> list[Row]:
    docs = load("en_gutenberg_editions", "editions.jsonl.gz")
    texts = normalized([d["text"] for d in docs])
    positives = {(i, j) for i in range(len(docs)) for j in range(i + 1, len(docs)) if docs[i]["group"] == docs[j]["group"]}
    return [score(det, "(b) Gutenberg edition clusters", texts, list(range(len(docs))), positives, texts)[0]]


_SPACE = re.compile(r"(\s+)")


def edit(text: str, fraction: float, rng: random.Random, vocabulary: list[str]) -> str:
    """Edit round(fraction * words) (at least 1) distinct words: replace, delete or insert after, at random."""
    tokens = _SPACE.split(text)
    words = [i for i, t in enumerate(tokens) if t and not t.isspace()]
    for i in rng.sample(words, min(len(words), max(1, round(fraction * len(words))))):
        op, word = rng.choice("rdi"), rng.choice(vocabulary)
        tokens[i] = word if op == "r" else "" if op == "d" else tokens[i] + " " + word
    return re.sub(r" {2,}", " ", "".join(tokens)).strip()


def synthetic(det: Detector, n_docs: int, seed: int, levels: list[float]) -> list[Row]:
    rows = []
    for label, name, file in [
        ("ko_petitions", "ko_petitions", "petitions.jsonl.gz"),
        ("ko_court_precedents", "ko_court_precedents", "precedents.jsonl.gz"),
        ("en_state_of_the_union", "en_state_of_the_union", "sotu.jsonl.gz"),
    ]:
        texts = normalized([d["text"] for d in load(name, file)])
        _, eligible = det.signatures(texts)
        pool = [t for t, ok in zip(texts, eligible) if ok]
        rng = random.Random(seed)
        originals = rng.sample(pool, min(n_docs, len(pool)))
        vocabulary = [w for t in rng.sample(pool, min(200, len(pool))) for w in t.split()]
        n = len(originals)
        for fraction in levels:
            rng = random.Random(f"{seed}-{label}-{fraction}")
            copies = [edit(t, fraction, rng, vocabulary) for t in originals]
            row, _ = score(det, f"(c) {label} copies, {fraction:.0%} words edited", originals + copies,
                        list(range(n)) * 2, {(i, i + n) for i in range(n)}, originals)
            row.note = f"{n} originals of {len(texts)}"
            rows.append(row)
    return rows


def paraphrases(det: Detector) -> list[Row]:
    """Sentence pairs: recall = flagged share of positive pairs (both eligible); FP = flagged negative pairs."""
    rows = []
    specs = [
        ("news_south_vs_north_korean_orthography", lambda d: True, lambda d: False, "all pairs positive"),
        ("klue_sts_dev_pairs", lambda d: d["score"] >= 4.5, lambda d: d["score"] < 3, "pos score>=4.5, neg <3"),
        ("korsts_pairs", lambda d: d["score"] >= 4.5, lambda d: d["score"] < 3, "pos score>=4.5, neg <3"),
        ("question_pairs", lambda d: d["is_duplicate"] == 1, lambda d: d["is_duplicate"] == 0, "is_duplicate 1/0"),
    ]
    for file, positive, negative, how in specs:
        docs = load("ko_paraphrase_neardup", f"{file}.jsonl.gz")
        a = normalized([d["text_a"] for d in docs])
        b = normalized([d["text_b"] for d in docs])
        sa, ea = det.signatures(a)
        sb, eb = det.signatures(b)
        both = ea & eb
        flags = det.pair_flags(sa, sb) & both
        pos = np.array([positive(d) for d in docs]) & both
        neg = np.array([negative(d) for d in docs]) & both
        # A "negative" with identical text (question_pairs has hundreds) is a duplicate whatever its label says.
        identical = np.array([x == y for x, y in zip(a, b)])
        row = Row(f"(d) {file}")
        row.positives, row.tp = int(pos.sum()), int((flags & pos).sum())
        row.fp, row.natural = int((flags & neg & ~identical).sum()), int((flags & neg & identical).sum())
        row.note = f"{how}; eligible {both.mean():.0%} of {len(docs)}, {int(neg.sum())} neg"
        rows.append(row)
    docs = load("ko_paraphrase_neardup", "parakqc_paraphrase_groups.jsonl.gz")
    texts = normalized([d["text"] for d in docs])
    sigs, eligible = det.signatures(texts)
    groups = defaultdict(list)
    for i, d in enumerate(docs):
        if eligible[i]:
            groups[d["group"]].append(i)
    positives = {(x, y) for g in groups.values() for k, x in enumerate(g) for y in g[k + 1 :]}
    flagged = det.flagged(sigs, eligible)
    row = Row("(d) parakqc_paraphrase_groups")
    row.positives, row.tp, row.fp = len(positives), len(flagged & positives), len(flagged - positives)
    row.note = f"same group; eligible {eligible.mean():.0%} of {len(docs)}"
    rows.append(row)
    return rows


def short_documents(det: Detector, seed: int) -> list[Row]:
    """Why MIN_SHINGLES: 10% copies (at least one word) of short Korean texts, scored as if they were eligible.

    Texts: ko_klue_sentences and ko_news_comments_hate, grouped by shingle count; up to 300 per group."""
    texts = normalized([d["text"] for d in load("ko_klue_sentences", "klue_sentences.jsonl.gz")]
                       + [d["text"] for d in load("ko_news_comments_hate", "comments.jsonl.gz")])
    texts = sorted(set(texts))
    _, counts = nd._shingle_hashes(texts, det.ngram)
    vocabulary = [w for t in texts[::20] for w in t.split()]
    everything = Detector(det.ngram, det.num_perm, det.bands, det.threshold, min_shingles=1)
    rows = []
    for lo, hi in [(5, 10), (10, 20), (20, 30), (30, 50), (50, 100), (100, 200)]:
        pool = [t for t, c in zip(texts, counts) if lo <= c < hi]
        rng = random.Random(f"{seed}-short-{lo}")
        originals = rng.sample(pool, min(300, len(pool)))
        copies = [edit(t, 0.10, rng, vocabulary) for t in originals]
        n = len(originals)
        row, _ = score(everything, f"(e) short ko texts, {lo}-{hi - 1} shingles, 10% copies", originals + copies,
                       list(range(n)) * 2, {(i, i + n) for i in range(n)}, originals)
        row.note = "scored as if eligible" if lo < det.min_shingles else "eligible"
        rows.append(row)
    return rows


def throughput(det: Detector, megabytes: float = 20.0) -> str:
    """MB/s (UTF-8 bytes) of signatures on the first ~20 MB of ko_court_precedents (one thread)."""
    texts, size = [], 0
    for d in load("ko_court_precedents", "precedents.jsonl.gz"):
        texts.append(d["text"])
        size += len(d["text"].encode())
        if size >= megabytes * 1e6:
            break
    texts = normalized(texts)
    size = sum(len(t.encode()) for t in texts)
    det.signatures(texts[:10])  # build the code point table and permutations once
    start = time.perf_counter()
    det.signatures(texts)
    seconds = time.perf_counter() - start
    return f"signatures: {size / 1e6:.1f} MB of Korean (ko_court_precedents) in {seconds:.2f} s = {size / 1e6 / seconds:.1f} MB/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ngram", type=int, default=nd.NGRAM)
    parser.add_argument("--num-perm", type=int, default=nd.NUM_PERM)
    parser.add_argument("--bands", type=int, default=nd.BANDS)
    parser.add_argument("--threshold", type=float, default=nd.THRESHOLD)
    parser.add_argument("--min-shingles", type=int, default=nd.MIN_SHINGLES)
    parser.add_argument("--docs", type=int, default=300, help="originals per corpus in (c)")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--levels", default="0.03,0.05,0.10", help="fractions of words edited in (c)")
    parser.add_argument("--only", default="abcde", help="subset of the sections a, b, c, d, e to run")
    parser.add_argument("--show", action="store_true", help="list false positives and negatives on stderr")
    args = parser.parse_args()
    global SHOW
    SHOW = args.show
    if not CORPORA.exists():
        sys.exit(f"corpora not found at {CORPORA}")
    det = Detector(args.ngram, args.num_perm, args.bands, args.threshold, args.min_shingles)
    rows: list[Row] = []
    start = time.perf_counter()
    if "a" in args.only:
        rows += kjv(det)
    if "b" in args.only:
        rows += gutenberg(det)
    if "c" in args.only:
        rows += synthetic(det, args.docs, args.seed, [float(x) for x in args.levels.split(",")])
    if "d" in args.only:
        rows += paraphrases(det)
    if "e" in args.only:
        rows += short_documents(det, args.seed)
    print(f"character {args.ngram}-grams (no spaces/punctuation), NUM_PERM={args.num_perm}, "
          f"BANDS={args.bands} x ROWS={args.num_perm // args.bands}, THRESHOLD={args.threshold}, "
          f"MIN_SHINGLES={args.min_shingles}")
    header = ["set", "positives", "TP", "FN", "FP", "natural", "candidates", "recall", "precision", "note"]
    table = [header] + [r.cells() for r in rows]
    widths = [max(len(line[k]) for line in table) for k in range(len(header))]
    for k, line in enumerate(table):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths)) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print(throughput(det))
    print(f"evaluation took {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
