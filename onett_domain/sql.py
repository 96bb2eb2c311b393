"""SQL kept in `.sql` files beside the code that runs it, and the scratch tables a step owns.

A file may hold several statements (separated by a `;` at the end of a line); each gets only the named
parameters (`$name`) it uses, since DuckDB refuses extra ones."""

from __future__ import annotations

import re
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path
from typing import Any, Iterator

import duckdb

_PARAMETER = re.compile(r"\$([A-Za-z_]\w*)")
_END = re.compile(r";\s*$", re.MULTILINE)


@cache
def load(folder: Path, name: str) -> str:
    return (folder / f"{name}.sql").read_text(encoding="utf-8")


def literal(value: str) -> str:
    """A string as an SQL literal, for what DuckDB takes no parameter for (file names in COPY and read_parquet)."""
    return "'" + value.replace("'", "''") + "'"


def literal_list(values: list[str]) -> str:
    return "[" + ", ".join(literal(v) for v in values) + "]"


def statements(sql: str) -> list[str]:
    return [s.strip() for s in _END.split(sql) if s.strip() and not _only_comments(s)]


def _only_comments(sql: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in sql.splitlines())


def execute(conn: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
    """Runs every statement of `sql` in order; returns the rows of the last one."""
    rows: list[tuple] = []
    for statement in statements(sql):
        used = {name: (params or {})[name] for name in dict.fromkeys(_PARAMETER.findall(statement))}
        result = conn.execute(statement, used) if used else conn.execute(statement)
        rows = result.fetchall() if result.description else []
    return rows


@contextmanager
def settings(conn: duckdb.DuckDBPyConnection, **values: Any) -> Iterator[duckdb.DuckDBPyConnection]:
    """DuckDB settings for a block, the connection's own restored after it (a size as DuckDB prints it, to a tenth
    of its unit). After an error too, unless the error aborted a transaction: DuckDB then refuses any statement
    until it is rolled back, and the error the block raised is the one to see."""
    if not values:
        yield conn
        return
    names = list(values)
    before = conn.execute("SELECT " + ", ".join(f"current_setting('{n}')" for n in names)).fetchall()[0]

    def apply(pairs) -> None:
        for name, value in pairs:
            conn.execute(f"SET {name} = {literal(str(value))}")

    apply(values.items())
    try:
        yield conn
    except BaseException:
        with suppress(duckdb.TransactionException):
            apply(zip(names, before))
        raise
    apply(zip(names, before))


class Scratch:
    """Temporary tables and views one step creates and reads: made here, dropped when the step's block ends, so no
    other module depends on them. On an error the warehouse transaction rolls back and takes them with it."""

    def __init__(self, conn: duckdb.DuckDBPyConnection):
        self.conn = conn
        self._made: list[tuple[str, str]] = []

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            self.drop_all()

    def table(self, name: str, select: str, params: dict[str, Any] | None = None) -> str:
        execute(self.conn, f"CREATE OR REPLACE TEMP TABLE {name} AS {select}", params)
        return self._remember("TABLE", name)

    def view(self, name: str, select: str, params: dict[str, Any] | None = None) -> str:
        execute(self.conn, f"CREATE OR REPLACE TEMP VIEW {name} AS {select}", params)
        return self._remember("VIEW", name)

    def parquet_view(self, name: str, files: list[str]) -> str:
        """A view over Parquet files: large payloads are read where they are, never copied into the warehouse."""
        self.conn.read_parquet(files).create_view(name, replace=True)
        return self._remember("VIEW", name)

    def frame(self, name: str, frame) -> str:
        """A polars frame the step's SQL reads by name (registered, never copied into the warehouse)."""
        self.conn.register(name, frame.to_arrow())
        return self._remember("FRAME", name)

    def _remember(self, kind: str, name: str) -> str:
        if (kind, name) not in self._made:
            self._made.append((kind, name))
        return name

    def drop_all(self) -> None:
        for kind, name in reversed(self._made):
            if kind == "FRAME":
                self.conn.unregister(name)
            else:
                self.conn.execute(f"DROP {kind} IF EXISTS {name}")
        self._made.clear()


def insert_frame(conn: duckdb.DuckDBPyConnection, table: str, frame) -> None:
    """Insert a polars frame by column name (through Arrow: no per-row Python)."""
    if frame.height == 0:
        return
    name = f"_insert_{table}"
    conn.register(name, frame.to_arrow())
    try:
        conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {name}")
    finally:
        conn.unregister(name)


def insert_rows(conn: duckdb.DuckDBPyConnection, sql: str, rows: list) -> None:
    """executemany that accepts no rows (DuckDB refuses an empty parameter list)."""
    if rows:
        conn.executemany(sql, rows)
