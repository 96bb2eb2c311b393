"""The consumer's tokenizer: token counts are what contributors are paid for, so they come from tiktoken itself."""

from __future__ import annotations

from dagster import ConfigurableResource

from onett_text.tokens import load_encoding


class Tokenizer(ConfigurableResource):
    """Counts tokens with the consumer's encoding (default cl100k_base), on all cores."""

    encoding: str = "cl100k_base"
    num_threads: int = 2
    count_raw: bool = False  # also tokenize the text exactly as uploaded (the funnel's raw stage)

    def count(self, texts: list[str]) -> list[int]:
        # encode_ordinary: text that looks like a special token (<|endoftext|>) is counted as plain text.
        encoded = load_encoding(self.encoding).encode_ordinary_batch(texts, num_threads=self.num_threads)
        return [len(tokens) for tokens in encoded]
