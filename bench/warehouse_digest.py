"""A digest of every warehouse table, to show that two versions of onett compute the same thing.

    .venv/bin/python bench/warehouse_digest.py WAREHOUSE.duckdb
    .venv/bin/python bench/warehouse_digest.py --demo [--onett PATH/TO/onett] [--keep DIR] [--inputs HOME]

Prints one line per table: rows and the SHA-256 of its rows in sorted order, leaving out only the columns that record
when a run happened (closed_at, recorded_at, updated_at, and the adjustment reason that quotes that date). With
--demo it first runs `onett demo`, `onett ingest` and `onett close --ended` on a fresh DAGSTER_HOME with the given
`onett` (default: the one next to this Python), so running it under two versions' virtualenvs on the same day
compares them end to end (the demo's files are dated relative to today); --inputs HOME takes the landing zone,
revenue and reference folders of an earlier run (modification times kept) instead of `onett demo`, so both sides
read the very same files. `uploads` is read as `submissions` in a warehouse from before that table was renamed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
RUN_TIME_COLUMNS = {"closed_at", "recorded_at", "updated_at"}
TABLES = ["uploads", "documents", "token_funnel", "pii_masks", "reference_documents", "reference_state",
          "minhash_texts", "minhash_buckets", "near_pairs", "api_revenue", "contribution_ratios", "payouts",
          "payout_periods", "payout_adjustments"]
RENAMED = {"uploads": "submissions"}


def digest(warehouse: Path) -> dict[str, tuple[int, str]]:
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        existing = {name for (name,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'").fetchall()}
        out = {}
        for table in TABLES:
            name = table if table in existing else RENAMED.get(table, table)
            if table == "minhash_buckets" and name not in existing and "near_index_files" in existing:
                # newer versions keep them in Parquet shards beside the warehouse
                rows = conn.execute(f"SELECT bucket, text_id FROM {_bucket_files(conn, warehouse)} ORDER BY ALL")
                out[table] = _digest(rows.fetchall())
                continue
            if name not in existing:
                out[table] = (0, "missing")
                continue
            columns = [c for (c,) in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                [name]).fetchall()
                if c not in RUN_TIME_COLUMNS and not (table == "payout_adjustments" and c == "reason")]
            out[table] = _digest(conn.execute(f"SELECT {', '.join(columns)} FROM {name} ORDER BY ALL").fetchall())
        return out
    finally:
        conn.close()


def _digest(rows: list[tuple]) -> tuple[int, str]:
    sha = hashlib.sha256()
    for row in rows:
        sha.update(repr(row).encode())
        sha.update(b"\n")
    return len(rows), sha.hexdigest()[:16]


def _bucket_files(conn: duckdb.DuckDBPyConnection, warehouse: Path) -> str:
    """The near-duplicate buckets of a warehouse that keeps them in Parquet shards beside it, as a FROM clause."""
    folder = warehouse.with_suffix(".near-index")
    files = [str(folder / f) for (f,) in conn.execute("SELECT file FROM near_index_files").fetchall()]
    return f"read_parquet({files})" if files else "(SELECT NULL::BIGINT AS bucket, NULL::BIGINT AS text_id WHERE FALSE)"


def run_demo(onett: Path, home: Path, inputs: Path | None = None) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONETT_")}
    env.update(DAGSTER_HOME=str(home), ONETT_SETTLE_SECONDS="0")
    if inputs is not None:
        for folder in ("landing", "revenue", "reference"):
            shutil.copytree(inputs / folder, home / folder, copy_function=shutil.copy2)  # copy2 keeps mtimes
    for args in ([] if inputs else [["demo"]]) + [["ingest"], ["close", "--ended"]]:
        subprocess.run([str(onett), *args], env=env, check=True, stdout=subprocess.DEVNULL)
    return home / "onett.duckdb"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("warehouse", nargs="?", type=Path)
    parser.add_argument("--demo", action="store_true", help="build the demo platform first and digest its warehouse")
    parser.add_argument("--onett", type=Path, default=Path(sys.executable).parent / "onett")
    parser.add_argument("--keep", type=Path, help="with --demo: build it in this folder and keep it")
    parser.add_argument("--inputs", type=Path, help="with --demo: the DAGSTER_HOME of an earlier run to copy inputs from")
    args = parser.parse_args()
    if args.demo:
        home = args.keep or Path(tempfile.mkdtemp(prefix="onett-demo-")) / "dagster_home"
        warehouse = run_demo(args.onett, home, args.inputs)
    elif args.warehouse:
        warehouse = args.warehouse
    else:
        parser.error("give a warehouse file or --demo")
    for table, (rows, sha) in digest(warehouse).items():
        print(f"{table:22} {rows:>10}  {sha}")
    if args.demo and not args.keep:
        shutil.rmtree(home.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
