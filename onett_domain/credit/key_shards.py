"""The competing documents' decision keys as Parquet shards beside the warehouse, so exact grouping and the
first-come decision run as jobs on an engine's workers (first_come_decision.sql, shard by shard) when one is
configured; the warehouse keeps the money tables and applies what the jobs decide.

A key row is (contributor_id, period, file, position, hash_key, submitted_at, withdrawn_at): all the decision reads
of a document. Its shard is the content hash's first hex digit, so every copy of a text is in one shard. A
submission's rows are written again whenever it is processed, as a new generation: a row is live while
`credit_key_versions` names its submission's generation, so replacing a submission never rewrites other files.
Files are named and listed like the band buckets' (bucket_index): part of the index once the warehouse transaction
that lists them commits, removed by `sweep` once nothing names them; a shard that piles up MAX_FILES files is
rewritten with its live rows only.

The rows are derived from `documents`: the embedded decision, which does not keep them, drops the listing
(`invalidate`), and the next decision on an engine rebuilds it (`ensure`), as it does for a file gone missing (a
restored backup)."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from onett_domain.credit import bucket_index
from onett_domain.credit.bucket_index import Runner
from onett_domain.sql import literal, literal_list, load

SQL = Path(__file__).with_name("sql")

SHARDS = 16
MAX_FILES = 64  # files a shard may hold before its live rows are rewritten into one
JOB_TEXTS = 50_000  # touched texts per decision job, up to a job per shard
SHARD_OF = "(strpos('0123456789abcdef', left(hash_key::VARCHAR, 1)) - 1)"  # the content hash's first hex digit
COLUMNS = "contributor_id, period, file, position, hash_key, submitted_at, withdrawn_at"
STALE_WORK_SECONDS = 86_400
COMPETING = "status IN ('accepted', 'duplicate', 'near_duplicate')"


def folder(conn: duckdb.DuckDBPyConnection) -> Path:
    """`<warehouse file>.credit-keys` (beside the band buckets' folder for an in-memory warehouse)."""
    (path,), = conn.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    if path:
        return Path(path).with_suffix(".credit-keys")
    return bucket_index.folder(conn) / "credit-keys"


def files_by_shard(conn: duckdb.DuckDBPyConnection) -> dict[int, list[str]]:
    base, grouped = folder(conn), {}
    for shard, file in conn.execute("SELECT shard, file FROM credit_key_files ORDER BY shard, file").fetchall():
        grouped.setdefault(shard, []).append(str(base / file))
    return grouped


def invalidate(conn: duckdb.DuckDBPyConnection) -> None:
    """Forget the shards (the documents are about to change without them); `ensure` rebuilds them when needed."""
    if conn.execute("SELECT 1 FROM credit_key_versions LIMIT 1").fetchall() or \
            conn.execute("SELECT 1 FROM credit_key_files LIMIT 1").fetchall():
        conn.execute("DELETE FROM credit_key_versions; DELETE FROM credit_key_files")


def ensure(conn: duckdb.DuckDBPyConnection) -> bool:
    """Rebuilds the shards from `documents` when they are not whole: never built, dropped by an embedded decision,
    or a file missing. Returns whether it rebuilt."""
    listed = [p for paths in files_by_shard(conn).values() for p in paths]
    known = conn.execute("SELECT 1 FROM credit_key_versions LIMIT 1").fetchall()
    stored = conn.execute(f"SELECT 1 FROM documents WHERE {COMPETING} LIMIT 1").fetchall()
    if all(Path(p).exists() for p in listed) and (known or not stored):
        return False
    conn.execute("DELETE FROM credit_key_versions; DELETE FROM credit_key_files")
    generation = _write(conn, f"SELECT {COLUMNS} FROM documents WHERE {COMPETING}", "rebuilt")
    conn.execute(f"INSERT INTO credit_key_versions SELECT DISTINCT contributor_id, period, {generation}::BIGINT "
                 f"FROM documents WHERE {COMPETING}")
    return True


def replace(conn: duckdb.DuckDBPyConnection, contributor_id: str, period, select: str) -> int:
    """The submission's competing documents are now the rows of `select` (COLUMNS): written as a new generation,
    its earlier rows dead from this transaction on. Returns the rows written."""
    conn.execute("DELETE FROM credit_key_versions WHERE contributor_id = ? AND period = ?", [contributor_id, period])
    generation = _write(conn, select, "add")
    (rows,), = conn.execute("SELECT coalesce(sum(rows), 0) FROM credit_key_files WHERE generation = ?",
                            [generation]).fetchall()
    if rows:
        conn.execute("INSERT INTO credit_key_versions VALUES (?, ?, ?)", [contributor_id, period, generation])
    piled = conn.execute("SELECT shard FROM credit_key_files GROUP BY shard HAVING count(*) > ? ORDER BY shard",
                         [MAX_FILES]).fetchall()
    for (shard,) in piled:
        _compact(conn, shard)
    return int(rows)


def decision(conn: duckdb.DuckDBPyConnection, touched: str, run: Runner) -> tuple[str, Path]:
    """Runs the first-come decision of every competing document of the texts in `touched` (column hash_key)
    submitted at `_since` or later (the decision's one-row table) on `run`, in two rounds of jobs over groups of
    shards: each group gathers the live rows of those texts and of their near neighbours (`near_pairs`), then each
    group decides the documents of its own texts. Returns a SELECT of the decisions (first_come_decision.sql's
    columns) and the folder of the jobs' files, to remove once read."""
    base = folder(conn)
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".decision-", dir=base))  # on the shards' storage: every node sees it
    touched_path, pairs_path = str(work / "touched.parquet"), str(work / "pairs.parquet")
    versions_path, wanted_path = str(work / "versions.parquet"), str(work / "wanted.parquet")
    since_path = str(work / "since.parquet")
    conn.execute(f"COPY _since TO {literal(since_path)} (FORMAT parquet)")
    (texts,), = conn.execute(f"COPY (SELECT DISTINCT hash_key FROM {touched}) TO {literal(touched_path)} "
                             "(FORMAT parquet)").fetchall()
    conn.execute(f"COPY (SELECT n.hash_key, n.other_key, n.similarity FROM near_pairs n SEMI JOIN {touched} t "
                 f"USING (hash_key)) TO {literal(pairs_path)} (FORMAT parquet)")
    conn.execute(f"COPY (SELECT hash_key FROM read_parquet({literal(touched_path)}) UNION "
                 f"SELECT other_key FROM read_parquet({literal(pairs_path)})) TO {literal(wanted_path)} "
                 "(FORMAT parquet)")
    conn.execute(f"COPY credit_key_versions TO {literal(versions_path)} (FORMAT parquet)")
    (memory,), = conn.execute("SELECT current_setting('memory_limit')").fetchall()
    by_shard = files_by_shard(conn)
    shards = [s for (s,) in conn.execute(
        f"SELECT DISTINCT {SHARD_OF} FROM read_parquet({literal(touched_path)}) ORDER BY 1").fetchall()]
    if not by_shard or not shards:
        return _empty_decision(), work
    # A job costs a DuckDB start and a pass over its files: a small decision is a job or two, a backfill one per shard.
    groups = min(SHARDS, -(-int(texts) // JOB_TEXTS))
    gathers = [([p for s, paths in sorted(by_shard.items()) if s % groups == g for p in paths], versions_path,
                wanted_path, str(work / f"gathered-{g}.parquet"), memory) for g in range(groups)]
    gathers = [job for job in gathers if job[0]]
    for _ in run(gather_rows, gathers):
        pass
    gathered = [job[3] for job in gathers]
    decides = [([s for s in shards if s % groups == g], gathered, touched_path, pairs_path, since_path,
                str(work / f"decided-{g}.parquet"), memory) for g in range(groups)]
    decides = [job for job in decides if job[0]]
    for _ in run(decide_shards, decides):
        pass
    return f"SELECT * FROM read_parquet({literal_list([job[5] for job in decides])})", work


def gather_rows(shard_files: list[str], versions: str, wanted: str, out: str, memory_limit: str) -> int:
    """The live rows of the wanted texts in some shards' files, written to `out`: a job for an engine's worker
    (Parquet in and out). Returns the rows written."""
    conn = _job_connection(out, memory_limit)
    try:
        (rows,), = conn.execute(
            f"""COPY (SELECT {', '.join('k.' + c for c in COLUMNS.split(', '))}
                      FROM read_parquet({literal_list(shard_files)}) k
                      JOIN read_parquet({literal(versions)}) v USING (contributor_id, period, generation)
                      SEMI JOIN read_parquet({literal(wanted)}) w USING (hash_key))
                TO {literal(out)} (FORMAT parquet)""").fetchall()
        return int(rows)
    finally:
        conn.close()


def decide_shards(shards: list[int], gathered: list[str], touched: str, pairs: str, since: str, out: str,
                  memory_limit: str) -> int:
    """The first-come decision of the documents of these shards' touched texts submitted at `since` or later, from
    the rows gathered from every shard (their near neighbours may live anywhere), written to `out`: a job for an
    engine's worker. Returns the documents decided."""
    conn = _job_connection(out, memory_limit)
    try:
        conn.execute(f"CREATE VIEW _ranked AS SELECT *, 'accepted' AS status FROM read_parquet({literal_list(gathered)})")
        conn.execute("CREATE VIEW _summarized AS SELECT * FROM _ranked")
        conn.execute(f"CREATE VIEW _deciding AS SELECT hash_key FROM read_parquet({literal(touched)}) "
                     f"WHERE {SHARD_OF} IN ({', '.join(str(int(s)) for s in shards)})")
        conn.execute(f"CREATE VIEW near_pairs AS SELECT * FROM read_parquet({literal(pairs)})")
        conn.execute(f"CREATE VIEW _since AS SELECT * FROM read_parquet({literal(since)})")
        (rows,), = conn.execute(f"COPY ({load(SQL, 'first_come_decision')}) TO {literal(out)} (FORMAT parquet)"
                                ).fetchall()
        return int(rows)
    finally:
        conn.close()


def check(conn: duckdb.DuckDBPyConnection) -> tuple[int, list[str]]:
    """The live rows against the competing documents they copy: a row lost or left behind would change who is
    first. Returns the rows compared and the problems; none listed (an embedded platform) is nothing to check."""
    listed = [p for paths in files_by_shard(conn).values() for p in paths]
    missing = [p for p in listed if not Path(p).exists()]
    if missing:
        return 0, [f"credit key shards: {len(missing)} listed file(s) missing, e.g. {missing[0]} (the next decision "
                   "on an engine rebuilds them from the documents)"]
    if not listed:
        return 0, []
    live = (f"SELECT {COLUMNS} FROM read_parquet({literal_list(listed)}, hive_partitioning = false) "
            "SEMI JOIN credit_key_versions USING (contributor_id, period, generation)")
    stored = f"SELECT {COLUMNS} FROM documents WHERE {COMPETING}"
    (rows,), = conn.execute(f"SELECT count(*) FROM ({live})").fetchall()
    (extra,), = conn.execute(f"SELECT count(*) FROM ({live} EXCEPT ALL {stored})").fetchall()
    (lacking,), = conn.execute(f"SELECT count(*) FROM ({stored} EXCEPT ALL {live})").fetchall()
    problems = [f"credit key shards: {n} {what}" for n, what in (
        (extra, "live row(s) that no competing document has"), (lacking, "competing document(s) without a live row"))
        if n]
    return int(rows), problems


def sweep(conn: duckdb.DuckDBPyConnection) -> int:
    """Removes the files the committed state no longer names, and the folders of decisions that did not finish;
    a file of a generation above the committed ones may belong to a transaction still running and stays."""
    base = folder(conn)
    if not base.exists():
        return 0
    newest = _generation(conn)
    named = {str(base / f) for (f,) in conn.execute("SELECT file FROM credit_key_files").fetchall()}
    removed = 0
    for path in base.glob("shard=*/*.parquet"):
        generation = path.name.split("-", 1)[0]
        if str(path) not in named and generation.isdigit() and int(generation) <= newest:
            path.unlink(missing_ok=True)
            removed += 1
    for work in base.glob(".decision-*"):  # left by a process that was killed deciding (none runs for a day)
        if time.time() - work.stat().st_mtime > STALE_WORK_SECONDS:
            shutil.rmtree(work, ignore_errors=True)
    return removed


def _generation(conn: duckdb.DuckDBPyConnection) -> int:
    (generation,), = conn.execute("SELECT coalesce(max(generation), 0) FROM credit_key_state").fetchall()
    return int(generation)


def _next_generation(conn: duckdb.DuckDBPyConnection) -> int:
    """Takes the next generation number (in the warehouse transaction, so a rollback gives it back)."""
    generation = _generation(conn) + 1
    conn.execute("DELETE FROM credit_key_state; INSERT INTO credit_key_state VALUES (?)", [generation])
    return generation


def _write(conn: duckdb.DuckDBPyConnection, select: str, kind: str) -> int:
    """Writes the rows of `select` as one new file per shard they fall in, under a new generation, and lists them;
    returns the generation."""
    base = folder(conn)
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    generation = _next_generation(conn)
    (_, paths), = conn.execute(
        f"""COPY (SELECT {COLUMNS}, {generation}::BIGINT AS generation, {SHARD_OF}::INTEGER AS shard
                  FROM ({select}))
            TO {literal(str(base))} (FORMAT parquet, PARTITION_BY (shard), OVERWRITE_OR_IGNORE,
                                      FILENAME_PATTERN '{generation:010d}-{kind}-{{i}}', RETURN_FILES true)"""
    ).fetchall()
    if paths:
        for path, rows in sorted(conn.execute(
                f"SELECT file_name, num_rows FROM parquet_file_metadata({literal_list(paths)})").fetchall()):
            relative = Path(path).resolve().relative_to(base.resolve())
            conn.execute("INSERT INTO credit_key_files VALUES (?, ?, ?, ?)",
                         [int(relative.parts[0].split("=", 1)[1]), str(relative), rows, generation])
    return generation


def _compact(conn: duckdb.DuckDBPyConnection, shard: int) -> None:
    """Rewrites a shard's live rows into one file (each keeping its generation); the old files leave with `sweep`."""
    base = folder(conn)
    old = [str(base / f) for (f,) in conn.execute("SELECT file FROM credit_key_files WHERE shard = ?",
                                                  [shard]).fetchall()]
    generation = _next_generation(conn)
    target = base / f"shard={shard}" / f"{generation:010d}-merged-0.parquet"
    (rows,), = conn.execute(
        f"""COPY (SELECT {COLUMNS}, generation FROM read_parquet({literal_list(old)}, hive_partitioning = false) k
                  SEMI JOIN credit_key_versions v USING (contributor_id, period, generation))
            TO {literal(str(target))} (FORMAT parquet)""").fetchall()
    conn.execute("DELETE FROM credit_key_files WHERE shard = ?", [shard])
    conn.execute("INSERT INTO credit_key_files VALUES (?, ?, ?, ?)",
                 [shard, str(target.relative_to(base)), rows, generation])


def _job_connection(out: str, memory_limit: str) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": out + ".tmp",
                                  "preserve_insertion_order": False})


def _empty_decision() -> str:
    return ("SELECT NULL::VARCHAR AS contributor_id, NULL::DATE AS period, NULL::VARCHAR AS file, "
            "NULL::BIGINT AS position, NULL::TIMESTAMPTZ AS withdrawn_at, NULL::TIMESTAMPTZ AS earns_from, "
            "NULL::VARCHAR AS status, NULL::VARCHAR AS reason, NULL::VARCHAR AS duplicate_of, "
            "NULL::DOUBLE AS similarity, NULL::VARCHAR AS rule WHERE FALSE")
