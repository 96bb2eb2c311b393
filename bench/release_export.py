"""Release export: how fast a month's training release is cut from the pool, and in how much memory.

    .venv/bin/python bench/release_export.py [--corpora ../shared/corpora] [--contributors 6] [--rounds 3]
        [--copies 1] [--shard-mb 256] [--json bench/results/release_export.json]

Builds a throwaway platform from every shared corpus (`--copies N`: N edited copies of it, a pool N times larger),
ingests and closes the month, then cuts the month's release again `--rounds` times (`onett release`, a separate
process, its release folder emptied first) and, alternating with it in this process, reads the same text from the
Parquet parts with polars (the I/O floor). Prints per round the wall time, MB/s of shard output and of text, the
peak RSS of the release process tree (sampled from /proc), and the median ratio release / text read.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import ONETT, ROOT, _tree, build_landing, corpus_texts, edited  # noqa: E402

MONTH = "2026-11"
SUBMITTED = 1_794_000_000  # 2026-11-06 21:20 UTC: every upload in November (Seoul time too)


def onett(home: Path, *args: str) -> tuple[float, float, str]:
    """Run `onett ARGS` in its own process: (wall seconds, peak RSS of its process tree in MiB, stdout)."""
    env = {**os.environ, "DAGSTER_HOME": str(home), "ONETT_SETTLE_SECONDS": "0"}
    started, peak = time.perf_counter(), 0
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen([str(ONETT), *args], env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        while proc.poll() is None:
            peak = max(peak, sum(rss for _, rss, _ in _tree(proc.pid).values()))
            time.sleep(0.1)
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        sys.exit(f"onett {' '.join(args)} failed:\n{text[-3000:]}")
    return wall, peak / 2**20, text


def read_text(storage: Path) -> int:
    """The floor: every filtered document's text read from its Parquet part; returns the characters read."""
    chars = 0
    for part in sorted(storage.glob("filtered/*/*/docs-*.parquet")):
        chars += int(pl.read_parquet(part, columns=["text"])["text"].str.len_bytes().sum())
    return chars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument("--contributors", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--copies", type=int, default=1, help="edited copies of the corpora in the pool")
    parser.add_argument("--shard-mb", type=int, default=256)
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "release_export.json")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="onett-release-"))
    home = work / "home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    files = corpus_texts(args.corpora)
    rng = random.Random(7)
    pool = {f"{n}-{name}" if n else name: (edited(texts, 0.3, rng) if n else texts)
            for n in range(args.copies) for name, texts in files.items()}
    size, docs = build_landing(pool, home / "landing", args.contributors)
    for path in (home / "landing").rglob("*"):
        if path.is_file():
            os.utime(path, (SUBMITTED, SUBMITTED))
    (home / "revenue").mkdir()
    (home / "revenue" / "usage.csv").write_text(
        "date,requests,input_tokens,output_tokens,revenue\n" + "".join(
            f"{MONTH}-{d:02d},10,1000,500,100000\n" for d in range(1, 31)))
    os.environ["ONETT_RELEASE_SHARD_MB"] = str(args.shard_mb)
    print(f"pool: {size / 1e6:,.1f} MB raw, {docs:,} documents, {args.contributors} contributors", flush=True)
    wall, rss, _ = onett(home, "ingest")
    print(f"ingest: {wall:.1f} s, peak RSS {rss:,.0f} MiB", flush=True)
    wall, rss, _ = onett(home, "close", MONTH)
    print(f"close (with the first release): {wall:.1f} s, peak RSS {rss:,.0f} MiB", flush=True)

    releases, storage = home / "data" / "releases", home / "data"
    rounds = []
    for n in range(args.rounds):
        started = time.perf_counter()
        chars = read_text(storage)
        floor = time.perf_counter() - started
        listing, _, _ = onett(home, "release")  # the command's own start: Python, Dagster, the instance
        shutil.rmtree(releases)
        wall, rss, out = onett(home, "release", MONTH)
        manifest = json.loads(next(releases.glob("*/manifest.json")).read_text())
        text_mb = chars / 1e6
        rounds.append({"round": n + 1, "release_s": wall, "command_start_s": listing, "peak_rss_mib": rss,
                       "text_read_s": floor,
                       "shard_mb": manifest["bytes"] / 1e6, "text_mb_read": text_mb,
                       "documents": manifest["documents"], "tokens": manifest["tokens"],
                       "shards": len(manifest["shards"])})
        r = rounds[-1]
        print(f"round {r['round']}: release {wall:.1f} s (the command alone {listing:.1f} s; "
              f"{text_mb / (wall - listing):.1f} MB/s of text, {r['shard_mb'] / (wall - listing):.1f} MB/s of shards "
              "beyond the command's start), peak RSS "
              f"{rss:,.0f} MiB; text read alone {floor:.2f} s ({text_mb:,.0f} MB of text in the parts); "
              f"{r['documents']:,} documents, {r['tokens']:,} tokens, {r['shards']} shard(s)", flush=True)
    keys = ("release_s", "command_start_s", "peak_rss_mib", "text_read_s")
    median = {k: statistics.median(r[k] for r in rounds) for k in keys}
    cut = median["release_s"] - median["command_start_s"]
    text, shards = rounds[-1]["text_mb_read"], rounds[-1]["shard_mb"]
    print(f"median: release {median['release_s']:.1f} s, of which {cut:.1f} s beyond the command's start: "
          f"{text / cut:.1f} MB/s of text, {shards / cut:.1f} MB/s of shards, {cut / median['text_read_s']:.1f}x "
          f"reading the text alone; peak RSS {median['peak_rss_mib']:,.0f} MiB (the release process tree)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"pool_mb": size / 1e6, "documents_in": docs, "copies": args.copies,
                                     "rounds": rounds, "median": median}, indent=2))
    if args.keep:
        print(f"kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
