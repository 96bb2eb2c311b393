"""The small SQLite registers the portal writes while the pipeline holds the warehouse's single writer (consent,
disputes, payments): one way to open them, private to the platform's user from the moment they exist."""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def open_register(path: Path | str, schema: str) -> Iterator[sqlite3.Connection]:
    """A connection with `schema` applied, inside one transaction (committed on success, rolled back on error)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():  # created private: the registers hold personal data and the record of money decisions
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = sqlite3.connect(path, timeout=30)
    try:
        conn.executescript(schema)
        with conn:
            yield conn
    finally:
        conn.close()
