"""The recitation guard at the size of the shared corpora pool: index build, size, and query latency on one core.

    .venv/bin/python bench/recitation.py [--corpora ../shared/corpora] [--outputs 1000] [--held-out 400]

Every text of every corpus (the `text` of each JSONL line, and `text_a`/`text_b` of the pair files) is encoded with
cl100k_base; identical texts are indexed once, with all their documents as sources. `--held-out` documents of at
least 2,000 characters, drawn at random, are left out of the index: they are the fresh half of the outputs (a
2,000-character window of one of them each). The other half is a fresh window with an 80-token span of a random
indexed text copied into its middle. The index is saved and loaded back memory-mapped, as the service uses it, and
each output is checked one at a time with numpy on one thread. Prints the latency of `find` (token ids in) and of
`check` (text in: encoding, lookup, character offsets), the build time and rate, bytes per token and peak RSS.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_name] = "1"  # one core: before numpy is imported

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from onett_text.passages import encode  # noqa: E402
from onett_text.recitation import RecitationIndex, check  # noqa: E402
from onett_text.tokens import load_encoding  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ENC = "cl100k_base"
OUTPUT_CHARS = 2000
COPIED_TOKENS = 80


def pool(corpora: Path):
    """(corpus, document id, text) of every text of every corpus."""
    for path in sorted(corpora.glob("*/*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle):
                doc = json.loads(line)
                for field in ("text", "text_a", "text_b"):
                    if isinstance(doc.get(field), str):
                        name = str(doc.get("id", number)) + ("" if field == "text" else f"/{field}")
                        yield path.parent.name, name, doc[field]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q))


def serving_rss(folder: Path, outputs: list[tuple[str, bool]]) -> str:
    """Peak RSS of a fresh process that only loads the index and checks the outputs, as the service does (VmHWM:
    ru_maxrss would carry this process's peak over the exec)."""
    script = ("import json, sys, time\n"
              "from onett_text.recitation import RecitationIndex, check\n"
              "started = time.perf_counter(); index = RecitationIndex.load(sys.argv[1])\n"
              "loaded = time.perf_counter() - started\n"
              "for text in json.load(sys.stdin): check(text, 'cl100k_base', index)\n"
              "peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
              "print(f'serving process: load {loaded * 1000:.0f} ms, peak RSS after the checks '\n"
              "      f'{int(peak) / 1024:.0f} MB')\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", script, str(folder)], input=json.dumps([t for t, _ in outputs]),
                          capture_output=True, text=True, env=env, check=True)
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument("--outputs", type=int, default=1000)
    parser.add_argument("--held-out", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    started = time.perf_counter()
    docs = list(pool(args.corpora))
    text_bytes = sum(len(t.encode()) for _, _, t in docs)
    long = [i for i, (_, _, t) in enumerate(docs) if len(t) >= OUTPUT_CHARS]
    held = set(rng.sample(long, min(args.held_out, len(long))))
    read_seconds = time.perf_counter() - started

    started = time.perf_counter()
    text_of: dict[str, int] = {}
    texts: list[tuple[int, np.ndarray]] = []
    sources: dict[int, dict] = {}
    held_texts = {t for i, (_, _, t) in enumerate(docs) if i in held}
    for i, (corpus, doc_id, text) in enumerate(docs):
        if text in held_texts:  # every copy of a held-out text stays out, or "fresh" text would be indexed
            continue
        text_id = text_of.get(text)
        if text_id is None:
            text_id = text_of[text] = len(text_of)
            texts.append((text_id, encode(text, ENC)))
            sources[text_id] = {"contributor_id": corpus, "documents": []}
        sources[text_id]["documents"].append(doc_id)
    encode_seconds = time.perf_counter() - started
    started = time.perf_counter()
    index = RecitationIndex.build(texts, ENC, sources)
    build_seconds = time.perf_counter() - started
    indexed_bytes = sum(len(t.encode()) for t in text_of)

    scratch = tempfile.TemporaryDirectory(prefix="recitation-bench-")
    folder = Path(scratch.name) / "index"
    started = time.perf_counter()
    index.save(folder)
    save_seconds = time.perf_counter() - started
    started = time.perf_counter()
    loaded = RecitationIndex.load(folder)
    load_seconds = time.perf_counter() - started

    # outputs: windows of held-out documents, half with a copied span of an indexed text in the middle
    enc = load_encoding(ENC)
    fresh_docs = [(docs[i][0], docs[i][2]) for i in sorted(held)]
    long_texts = [(tid, ids) for tid, ids in texts if len(ids) >= 4 * COPIED_TOKENS]
    outputs: list[tuple[str, bool]] = []
    corpus_of: list[str] = []
    for n in range(args.outputs):
        corpus, doc = rng.choice(fresh_docs)
        corpus_of.append(corpus)
        at = rng.randrange(0, len(doc) - OUTPUT_CHARS + 1)
        window = doc[at:at + OUTPUT_CHARS]
        copied = n % 2 == 1
        if copied:
            _, ids = rng.choice(long_texts)
            start = rng.randrange(0, len(ids) - COPIED_TOKENS)
            span = enc.decode(ids[start:start + COPIED_TOKENS].tolist())
            middle = len(window) // 2 - len(span) // 2
            cut = window.rfind("\n", 0, middle)
            cut = cut + 1 if cut > 0 else middle
            window = window[:cut] + span + "\n" + window[cut + len(span):]
            window = window[:max(OUTPUT_CHARS, cut + len(span) + 1)]
        outputs.append((window, copied))
    encoded = [encode(text, ENC) for text, _ in outputs]

    for (text, _), ids in zip(outputs[:20], encoded):  # warm up as a running service is: vocabulary, mapped pages
        check(text, ENC, loaded)
    find_times, check_times = [], []
    flagged = {False: 0, True: 0}
    fresh_by_corpus: dict[str, list[int]] = {}
    for (text, copied), ids, corpus in zip(outputs, encoded, corpus_of):
        t0 = time.perf_counter()
        loaded.find(ids)
        find_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        verdict = check(text, ENC, loaded)
        check_times.append(time.perf_counter() - t0)
        flagged[copied] += verdict.verdict == "recites"
        if not copied:
            counts = fresh_by_corpus.setdefault(corpus, [0, 0])
            counts[0] += 1
            counts[1] += verdict.verdict == "recites"

    total_seconds = read_seconds + encode_seconds + build_seconds
    print(f"pool: {len(docs):,} texts ({text_bytes / 1e6:.1f} MB), {len(held):,} held out; "
          f"indexed {loaded.text_count:,} distinct texts of >= 47 tokens, {loaded.token_count:,} tokens, "
          f"{loaded.fingerprint_count:,} fingerprints")
    print(f"build: read {read_seconds:.1f} s, encode {encode_seconds:.1f} s, index {build_seconds:.1f} s "
          f"({indexed_bytes / 1e6 / build_seconds:.1f} MB/s of text; encode+index "
          f"{indexed_bytes / 1e6 / (encode_seconds + build_seconds):.1f} MB/s; all {total_seconds:.1f} s); "
          f"save {save_seconds:.2f} s, load {load_seconds * 1000:.0f} ms")
    print(f"size: {loaded.nbytes / 1e6:.1f} MB, {loaded.bytes_per_token:.2f} bytes per indexed token")
    for name, times in (("find", find_times), ("check", check_times)):
        print(f"{name} latency over {len(times)} outputs of {OUTPUT_CHARS} chars: p50 {percentile(times, 50):.2f} ms, "
              f"p99 {percentile(times, 99):.2f} ms, max {max(times) * 1000:.2f} ms")
    halves = {c: sum(1 for _, x in outputs if x == c) for c in (False, True)}
    print(f"flagged: fresh {flagged[False]}/{halves[False]}, with a copied {COPIED_TOKENS}-token span "
          f"{flagged[True]}/{halves[True]}")
    print("fresh outputs flagged by corpus (held-out text the pool holds elsewhere: editions, reposts, formulas): "
          + ", ".join(f"{c} {f}/{n}" for c, (n, f) in sorted(fresh_by_corpus.items())))
    print(f"peak RSS of this process (the pool's texts, the index built and the index loaded): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; {serving_rss(folder, outputs)}")
    scratch.cleanup()


if __name__ == "__main__":
    main()
