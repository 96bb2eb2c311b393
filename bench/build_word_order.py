"""Builds onett_text/data/word_order_{ko,en}.json: the word-order table of the `word_salad` rule
(see onett_text/quality/word_order.py).

Sources, all public domain or CC0, none of them a corpus whose keep rate bench/filter_eval.py reports as a target:
- Korean: ko_nsmc_reviews (Naver movie reviews, github.com/e9t/nsmc, CC0 1.0), all 150,027 reviews.
- English: en_kjv_two_editions, Debian edition (King James Bible, public domain), and en_gutenberg_editions, the
  first plain-text edition of each of the 7 books with the Project Gutenberg header and footer cut off (public
  domain in the USA).

Run from the repository root: .venv/bin/python bench/build_word_order.py [path/to/shared/corpora]
Only statistics of word-class pairs are stored (the most frequent classes per side, PMI in 1/16 nats as int8,
zlib-compressed), no text. The Korean table also holds, over the same ending classes, the PMI of a word's ending
with the next word's ending and the PMI of an ending with ending its line or not (word_order.chain).
"""

from __future__ import annotations

import base64
import gzip
import json
import sys
import zlib
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from onett_text.lookup import Lookup  # noqa: E402
from onett_text.normalize import normalize_text  # noqa: E402
from onett_text.quality.word_order import DATA, SCALE, classes, resolve, word_features  # noqa: E402
from onett_text.scan import scan  # noqa: E402

TOP = {"ko": 600, "en": 300}  # classes per side


def read(path: Path, keep=lambda d: True) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [d["text"] for d in map(json.loads, f) if keep(d)]


def gutenberg_body(text: str) -> str:
    start, end = text.find("*** START OF"), text.find("*** END OF")
    if start >= 0:
        text = text[text.find("\n", start) + 1 :]
    if end >= 0:
        text = text[: text.find("*** END OF")]
    return text


def _vocabulary(full: np.ndarray, short: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """Row of every pair side, and the vocabulary's keys (row order; OTHER is the row after the last).

    The `top` most frequent detailed classes are kept, the rest fall back to their coarse class, and the `top`
    most frequent of the result make the vocabulary."""
    values, counts = np.unique(full, return_counts=True)
    kept = values[np.argsort(-counts, kind="stable")[:top]]
    mixed = np.where(np.isin(full, kept), full, short)
    values, counts = np.unique(mixed, return_counts=True)
    vocab = values[np.argsort(-counts, kind="stable")[:top]]
    order = np.argsort(vocab)
    pos = np.minimum(np.searchsorted(vocab[order], mixed), len(vocab) - 1)
    row = np.where(vocab[order][pos] == mixed, order[pos], len(vocab))
    return row, vocab


def label(key: int) -> str:
    """Readable form of a class key, for people reading the table."""
    kind, flag = key >> 60, key & 3
    if kind <= 5:
        chars = [(key >> 23) & 0x1FFFFF, (key >> 2) & 0x1FFFFF]
    else:
        chars = [(key >> (32 - 10 * i)) & 1023 for i in range(4)]
    text = "".join(chr(c) for c in chars if c)
    return f"{kind}:{text}" + {0: "", 1: "|.", 2: "|,", 3: "|^"}[flag]


def build(texts: list[str], language: str) -> dict:
    frame = pl.DataFrame({"text": texts}).select(normalize_text(pl.col("text")))
    sc = scan(frame["text"])
    pair = np.zeros(len(sc.ws), bool)
    pair[:-1] = (sc.w_doc[:-1] == sc.w_doc[1:]) & ~sc.w_line_start[1:]
    left = np.flatnonzero(pair)
    ti, tails = _vocabulary(*classes(sc, word_features(sc, left), left, language, "tail"), TOP[language])
    hi, heads = _vocabulary(*classes(sc, word_features(sc, left + 1), left + 1, language, "head"), TOP[language])
    table = {
        "language": language,
        "pairs": int(len(left)),
        "tail_keys": [str(int(k)) for k in tails],
        "head_keys": [str(int(k)) for k in heads],
        "tail_labels": [label(int(k)) for k in tails],
        "head_labels": [label(int(k)) for k in heads],
        "pmi_int8_zlib_base64": _packed(_pmi(ti, hi, len(tails) + 1, len(heads) + 1)),
    }
    if language == "ko":
        table.update(chain(sc, left, tails))
    return table


def _pmi(left: np.ndarray, right: np.ndarray, rows: int, cols: int) -> np.ndarray:
    joint = np.bincount(left * cols + right, minlength=rows * cols).reshape(rows, cols).astype(np.float64)
    n = joint.sum()
    # add-half smoothing: a pair never seen still gets a (strongly negative) finite score
    return np.log((joint + 0.5) * n / np.outer(joint.sum(1) + 0.5, joint.sum(0) + 0.5))


def _packed(pmi: np.ndarray) -> str:
    q = np.clip(np.round(pmi * SCALE), -128, 127).astype(np.int8)
    return base64.b64encode(zlib.compress(q.tobytes(), 9)).decode("ascii")


def chain(sc, left: np.ndarray, tails: np.ndarray) -> dict:
    """Korean: over the tail classes of the main table (resolved as word_order.resolve does at scoring time),
    - tail_tail: PMI of a word's ending with the next word's ending on the same line ('를' is followed by a verb
      ending, an adnominal '한' by a noun with its particle, not by another '한');
    - line_end: PMI of an ending with ending its line (row 0) or being followed on its line (row 1), add-one-half
      smoothed towards 0 (a rare class says nothing)."""
    words = np.arange(len(sc.ws))
    lookup = Lookup(np.asarray(tails, np.uint64))
    row = resolve(*classes(sc, word_features(sc, words), words, "ko", "tail"), lookup, len(tails))
    ends = np.ones(len(words), bool)
    ends[:-1] = sc.w_line_start[1:]  # the next word starts a line (or another document)
    rows = len(tails) + 1
    total = np.bincount(row, minlength=rows).astype(np.float64)
    line = np.zeros((2, rows))
    for i, (count, share) in enumerate(((np.bincount(row, weights=ends, minlength=rows), ends.mean()),
                                        (np.bincount(row, weights=~ends, minlength=rows), 1 - ends.mean()))):
        line[i] = np.log((count + 0.5) / (total + 0.5 / share) / share)
    return {
        "tail_tail_pmi_int8_zlib_base64": _packed(_pmi(row[left], row[left + 1], rows, rows)),
        "line_end_pmi_int8_zlib_base64": _packed(line),
    }


def main() -> None:
    corpora = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "corpora"
    korean = read(corpora / "ko_nsmc_reviews" / "reviews.jsonl.gz")
    english = read(corpora / "en_kjv_two_editions" / "kjv_debian_chapters.jsonl.gz")
    seen: set[str] = set()

    def first_txt_edition(doc: dict) -> bool:
        if doc["format"] != "txt" or doc["group"] in seen:
            return False
        seen.add(doc["group"])
        return True

    english += [gutenberg_body(t) for t in read(corpora / "en_gutenberg_editions" / "editions.jsonl.gz", first_txt_edition)]
    DATA.mkdir(exist_ok=True)
    for language, texts in (("ko", korean), ("en", english)):
        table = build(texts, language)
        path = DATA / f"word_order_{language}.json"
        path.write_text(json.dumps(table, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
        print(f"{path.relative_to(ROOT)}: {len(texts)} documents, {table['pairs']} word pairs, "
              f"{len(table['tail_keys'])}x{len(table['head_keys'])} classes, {path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
