"""Content hashes for exact dedup: stable across versions and machines (polars' own hash is not)."""

from __future__ import annotations

import hashlib

import polars as pl


def content_hash(texts: pl.Series) -> pl.Series:
    return pl.Series(
        "content_hash",
        [hashlib.blake2b(t.encode(), digest_size=16).hexdigest() for t in texts.to_list()],
        dtype=pl.String,
    )
