"""Naming the documents behind recited spans in a kept platform's recitation index: the texts asked for only
(`sources_of`, what the operator's view and the daily check read) against the whole mapping gathered once (what they
read before), in one process.

    .venv/bin/python bench/recitation_sources.py INDEX_FOLDER [--asks 200] [--texts 5]

INDEX_FOLDER: a platform's `data/recitation-index` (from `bench/throughput.py --keep`). Each ask names the sources of
`--texts` text ids drawn from the index (as one operator request with that many source texts); prints the latency
percentiles, then the time and memory of gathering every source, and checks the two agree on the texts asked.
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from pathlib import Path

import numpy as np

from onett_text.recitation import RecitationIndex


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--asks", type=int, default=200)
    parser.add_argument("--texts", type=int, default=5)
    args = parser.parse_args()
    index = RecitationIndex.load(args.folder)
    catalog = index.source_catalog()
    parts = 0 if catalog is None else catalog.height
    print(f"{index.text_count:,} indexed texts, sources in {parts or 'one file, not'} parts")
    rng = random.Random(3)
    ids = index.text_ids.tolist()
    asks = [rng.sample(ids, args.texts) for _ in range(args.asks)]
    seconds, named = [], []
    for ask in asks:
        started = time.perf_counter()
        named.append(index.sources_of(ask))
        seconds.append(time.perf_counter() - started)
    p50, p99 = np.percentile(seconds, [50, 99])
    print(f"sources_of({args.texts} texts), {args.asks} asks: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
          f"max {max(seconds) * 1000:.1f} ms; RSS {rss_mb():.0f} MB")
    before = rss_mb()
    started = time.perf_counter()
    whole = index.sources
    print(f"every source gathered: {time.perf_counter() - started:.2f} s, {len(whole):,} texts, "
          f"+{rss_mb() - before:.0f} MB RSS (peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    assert all(got == {t: whole[t] for t in ask if t in whole} for ask, got in zip(asks, named)), "they disagree"
    print("the texts asked for: the same entries both ways")


if __name__ == "__main__":
    main()
