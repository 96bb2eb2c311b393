"""Peak memory of the recitation guard's update as one partition grows: a single upload of N documents (the size a
10 GB upload reaches, about 19 M documents, is beyond this disk for the whole pipeline, not for the guard alone).

    .venv/bin/python bench/guard_scale.py [--documents 1000000 4000000 16000000] [--tokens 64] [--repeat 0.1]

For each N, in a throwaway folder: a warehouse holding N accepted documents of one contributor and month (a fraction
`--repeat` of them repeating an earlier text), their `filtered` token-id parts (`--tokens` synthetic ids per text, in
parts of 100,000 rows written in batches of 8,192), then the guard's index built whole from them as the
`recitation_index` asset builds it (plan, reading, segments, sources, save), in this process, with DuckDB limited as
the platform limits it (1 GB for the warehouse). The sampler of bench/index_memory.py watches; the peak anonymous memory (what the kernel
cannot drop, unlike memory-mapped index pages) is the figure to compare across N. Prints a JSON line per N, then
where each 250 MiB more was reached."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index_memory import Sampler  # noqa: E402
from onett_domain import recitation_update  # noqa: E402
from onett_resources.parquet_parts import read_batches  # noqa: E402
from onett_resources.warehouse import SCHEMA  # noqa: E402
from onett_text.recitation import RecitationIndex  # noqa: E402

WAREHOUSE = {"memory_limit": "1GB"}  # as the platform's (ONETT_WAREHOUSE_MEMORY), spilling to DuckDB's default folder
PART_ROWS = 100_000
BATCH_ROWS = 8_192


def make_platform(folder: Path, documents: int, tokens: int, repeat: float) -> tuple[duckdb.DuckDBPyConnection, list]:
    """The warehouse (documents only) and the partition's token-id parts; a document repeats the text of an earlier
    one with probability `repeat` (texts: content hashes of their number)."""
    conn = duckdb.connect(str(folder / "warehouse.duckdb"), config=WAREHOUSE)
    conn.execute(SCHEMA)
    texts = f"CASE WHEN hash(i) % 1000 < {int(repeat * 1000)} THEN hash(i + 1) % greatest(i, 1) ELSE i END"
    conn.execute(f"""
        INSERT INTO documents (contributor_id, period, file, position, doc_id, submitted_at, content_hash,
                               raw_tokens, tokens, status, reason, duplicate_of, hash_key)
        SELECT 'big', DATE '2026-12-01', 'archive.jsonl', i, 'd' || i, TIMESTAMPTZ '2026-12-02 00:00:00+00',
               md5(t::VARCHAR), {tokens}, {tokens}, 'accepted', '', '', md5(t::VARCHAR)::UUID
        FROM (SELECT i, {texts} AS t FROM range({documents}) r(i))""")
    parts = folder / "filtered"
    parts.mkdir()
    files = []
    for n, start in enumerate(range(0, documents, PART_ROWS)):
        path = parts / f"passages-{n:05d}.parquet"
        conn.execute(f"""
            COPY (SELECT md5(t::VARCHAR) AS content_hash,
                         [(hash(t * {tokens} + x) % 100000)::UINTEGER FOR x IN range({tokens})] AS token_ids
                  FROM (SELECT i, {texts} AS t FROM range({start}, {min(start + PART_ROWS, documents)}) r(i))
                  ORDER BY i)
            TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE {BATCH_ROWS})""")
        files.append(path)
    return conn, files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, nargs="+", default=[1_000_000, 4_000_000, 16_000_000])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeat", type=float, default=0.1)
    args = parser.parse_args()
    for documents in args.documents:
        folder = Path(tempfile.mkdtemp(prefix="onett-guard-scale-"))
        try:
            started = time.perf_counter()
            conn, files = make_platform(folder, documents, args.tokens, args.repeat)
            conn.close()  # the platform's warehouse connection is let go of once the update is planned
            made = time.perf_counter()
            peak = Sampler()
            spill = folder / "spill"
            with duckdb.connect(str(folder / "warehouse.duckdb"), config=WAREHOUSE) as conn:
                plan = recitation_update.plan(conn, None, spill)
            planned = time.perf_counter()
            with recitation_update.Reading(plan) as reading:
                def added():
                    for contributor, period, texts in reading.partitions():
                        yield from reading.texts(contributor, period, texts, files, read_batches, [], "cl100k_base")

                index = RecitationIndex.build(added(), sources=lambda: reading.sources(None), spill=spill)
                index.save(folder / "recitation-index", keep_previous=False)
            done = time.perf_counter()
            print(json.dumps({
                "documents": documents, "texts": index.text_count, "tokens": index.token_count,
                "segments": len(index.segments), "peak_anonymous_mib": peak.anonymous, "peak_rss_mib": peak.rss,
                "seconds": {"making the platform": round(made - started, 1), "plan": round(planned - made, 1),
                            "read, index, sources, save": round(done - planned, 1)}}), flush=True)
            for anonymous, where in peak.marks:
                print(f"{anonymous:>6} MiB  {where}", flush=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
