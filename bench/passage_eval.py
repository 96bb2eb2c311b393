"""Passage credit on the shared corpora: what honest prose keeps, and what the passage index costs.

    .venv/bin/python bench/passage_eval.py [--corpora ../shared/corpora]

Each corpus is taken as one contributor's upload, in file order: a document's passages already held by an earlier
document of the corpus are repeated (the warehouse's rule, onett_domain/credit/sql/passage_credit.sql, with no
withdrawals). Prints per corpus the documents, tokens, passages, the share of tokens kept, and the CPU seconds of
tokenizing and cutting; then the passage index's size in a DuckDB file (schema.sql's tables, checkpointed) per token.
Whole-document exact copies count as repeated here (the pipeline removes them before passage credit), so corpora with
reposts keep less here than their accepted documents do.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from onett_text.passages import encode, passages

ROOT = Path(__file__).resolve().parent.parent
PROSE = [("ko_court_precedents", "precedents.jsonl.gz"), ("ko_petitions", "petitions.jsonl.gz"),
         ("ko_laws", None), ("en_state_of_the_union", "sotu.jsonl.gz"), ("en_moby_dick", "moby_dick_chapters.jsonl.gz"),
         ("en_gutenberg_editions", "editions.jsonl.gz")]


def texts(folder: Path, file: str | None):
    paths = [folder / file] if file else sorted(folder.glob("*.jsonl.gz"))
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                text = json.loads(line).get("text") or ""
                if text.strip():
                    yield text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpora", default=str(ROOT.parent / "shared" / "corpora"))
    args = parser.parse_args()
    keys_all, tokens_all, total_tokens = [], [], 0
    print(f"{'corpus':<24} {'docs':>6} {'tokens':>11} {'passages':>9} {'kept':>7} {'cpu s':>6}")
    for name, file in PROSE:
        seen: set[int] = set()
        docs = tokens = repeated = cut = 0
        start = time.process_time()
        for text in texts(Path(args.corpora) / name, file):
            ids = encode(text, "cl100k_base")
            keys, sizes = passages(text, ids, "cl100k_base")
            held: dict[int, int] = {}
            for key, size in zip(keys.tolist(), sizes.tolist()):
                held[key] = held.get(key, 0) + size
            repeated += sum(size for key, size in held.items() if key in seen)
            seen.update(held)
            docs, tokens, cut = docs + 1, tokens + len(ids), cut + len(held)
            keys_all.append(np.fromiter(held.keys(), np.uint64, len(held)))
            tokens_all.append(np.fromiter(held.values(), np.int32, len(held)))
        total_tokens += tokens
        print(f"{name:<24} {docs:>6} {tokens:>11,} {cut:>9,} {(tokens - repeated) / tokens:>7.2%} "
              f"{time.process_time() - start:>6.1f}")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "index.duckdb")
        conn = duckdb.connect(path)
        conn.execute((ROOT / "onett_resources" / "schema.sql").read_text())
        conn.execute("CHECKPOINT")
        empty = os.path.getsize(path)
        rows = pl.DataFrame({"passage": np.concatenate(keys_all),
                             "text_id": np.repeat(np.arange(len(keys_all)), [len(k) for k in keys_all]),
                             "ordinal": np.concatenate([np.arange(1, len(k) + 1) for k in keys_all]).astype(np.int32),
                             "tokens": np.concatenate(tokens_all)})
        conn.register("_rows", rows.to_arrow())
        conn.execute("INSERT INTO passages SELECT * FROM _rows")
        conn.execute("INSERT INTO passage_texts SELECT text_id, md5(text_id::VARCHAR), count(*), "
                     "md5(text_id::VARCHAR)::UUID FROM _rows GROUP BY 1")
        conn.execute("CHECKPOINT")
        size = os.path.getsize(path) - empty
        conn.close()
    print(f"passage index: {rows.height:,} rows for {total_tokens:,} tokens, {size / 2**20:.1f} MiB, "
          f"{size / total_tokens:.3f} bytes per token, {size / rows.height:.1f} bytes per passage")


if __name__ == "__main__":
    main()
