"""CPU seconds of the ways to count tokens on one core (tiktoken's, and bpe-openai's as the pipeline calls it), on the same sample of the shared corpora:
why a preprocessing worker (one process, one core) encodes text after text instead of calling the batch API.

    .venv/bin/python bench/tokenize_calls.py [--corpora ../shared/corpora] [--mb 25] [--runs 3]

Every way must give the same counts; the medians of `--runs` rounds (interleaved) are printed with their ratio to
the loop of `encode_ordinary`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sample(corpora: Path, mb: float) -> list[str]:
    texts = []
    for path in sorted(corpora.glob("*/*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                texts += [record[k] for k in ("text", "text_a", "text_b") if isinstance(record.get(k), str) and record[k]]
    if not texts:
        raise SystemExit(f"no corpus texts under {corpora} (expected */*.jsonl.gz)")
    random.Random(1).shuffle(texts)
    out, size = [], 0
    for text in texts:
        if size >= mb * 1e6:
            break
        out.append(text)
        size += len(text.encode())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument("--mb", type=float, default=25)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from onett_text.tokens import encode, fast_encoding, load_encoding

    texts = sample(args.corpora, args.mb)
    enc = load_encoding("cl100k_base")
    ways = {
        "loop of encode_ordinary": lambda: [len(enc.encode_ordinary(t)) for t in texts],
        "encode_ordinary_batch, 1 thread": lambda: [len(t) for t in enc.encode_ordinary_batch(texts, num_threads=1)],
        "loop of encode_to_numpy": lambda: [len(enc.encode_to_numpy(t, disallowed_special=())) for t in texts],
    }
    if fast_encoding("cl100k_base") is not None:  # what the pipeline uses: bpe-openai, long texts in pieces
        ways["onett_text.tokens.encode (bpe-openai)"] = lambda: [len(encode(t, "cl100k_base")) for t in texts]
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    reference = None
    for _ in range(args.runs):
        for name, way in ways.items():
            started = time.process_time()
            counts = way()
            seconds[name].append(time.process_time() - started)
            reference = reference or counts
            if counts != reference:
                raise SystemExit(f"{name} counted differently")
    base = statistics.median(seconds["loop of encode_ordinary"])
    print(f"{len(texts):,} texts, {sum(len(t.encode()) for t in texts) / 1e6:.1f} MB, {sum(reference):,} tokens")
    for name, values in seconds.items():
        median = statistics.median(values)
        print(f"  {name:35s} {median:6.2f} CPU s  ({median / base:.2f}x)")


if __name__ == "__main__":
    main()
