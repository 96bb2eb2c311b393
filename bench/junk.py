"""Deterministic junk for the filter evaluation: machine filler a contributor could upload to be paid for tokens.

Every generator takes a numpy Generator (seeded by the caller) and, where it reuses real text, the real documents
to scramble. Nothing here is tuned to the rules: the shapes are what filler tools and spammers produce.
"""

from __future__ import annotations

import numpy as np

HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3

LOREM = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore "
    "magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo "
    "consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur excepteur sint "
    "occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim id est laborum curabitur pretium "
    "tincidunt lacus nulla gravida orci a odio nullam varius turpis et commodo pharetra est eros bibendum elit nec "
    "luctus magna felis sollicitudin mauris integer in mauris eu nibh euismod gravida duis ac tellus et risus "
    "vulputate vehicula donec lobortis risus a elit etiam tempor ut ullamcorper ligula eu tempor congue eros est "
    "euismod turpis id tincidunt sapien risus a quam maecenas fermentum consequat mi donec fermentum pellentesque "
    "malesuada nulla a mi duis sapien sem aliquet nec commodo eget consequat quis neque aliquam faucibus elit ut "
    "dictum aliquet felis nisl adipiscing sapien sed malesuada diam lacus eget erat cras mollis scelerisque nunc "
    "nullam arcu aliquam consequat curabitur augue lorem dapibus quis laoreet et pretium ac nisi aenean magna nisl "
    "mollis quis molestie eu feugiat in orci in hac habitasse platea dictumst"
).split()

KEYWORDS = ["다이어트 보조제", "무료 성인 사이트", "부동산 투자", "온라인 카지노", "대출", "중고차 매매", "성형외과 추천",
            "cheap viagra", "best online casino", "payday loans", "weight loss pills", "crypto", "buy followers", "seo"]


def ks_x_1001_hangul() -> list[str]:
    """The 2,350 precomposed syllables of KS X 1001 (EUC-KR): the everyday Hangul repertoire."""
    return [bytes([lead, trail]).decode("euc_kr") for lead in range(0xB0, 0xC9) for trail in range(0xA1, 0xFF)]


def _layout(rng: np.random.Generator, words: list[str], sentence=(6, 16), paragraph=(2, 6), capital=False) -> str:
    """Words into sentences (a final period), sentences into paragraphs; the look of ordinary prose."""
    out, para, sent, i = [], [], [], 0
    while i < len(words):
        k = int(rng.integers(*sentence))
        chunk = words[i : i + k]
        i += k
        if capital:
            chunk[0] = chunk[0][:1].upper() + chunk[0][1:]
        if len(chunk) > 4 and rng.random() < 0.4:
            j = int(rng.integers(1, len(chunk) - 1))
            chunk[j] += ","
        sent.append(" ".join(chunk) + ".")
        if len(sent) >= int(rng.integers(*paragraph)):
            para.append(" ".join(sent))
            sent = []
    if sent:
        para.append(" ".join(sent))
    return "\n\n".join(para)


def random_hangul(rng: np.random.Generator, n_words: int, mode: str, weights: dict[str, float] | None = None) -> str:
    """Random syllables: 'uniform' over all 11,172, 'common' over KS X 1001, 'weighted' by a real text's
    syllable frequencies (so every syllable is common and in proportion)."""
    if mode == "uniform":
        pool = [chr(c) for c in range(HANGUL_FIRST, HANGUL_LAST + 1)]
        p = None
    elif mode == "common":
        pool, p = ks_x_1001_hangul(), None
    else:
        pool = list(weights)
        p = np.array([weights[s] for s in pool], float)
        p /= p.sum()
    lengths = rng.integers(1, 5, n_words)
    syllables = rng.choice(len(pool), int(lengths.sum()), p=p)
    words, at = [], 0
    for k in lengths:
        words.append("".join(pool[s] for s in syllables[at : at + k]))
        at += k
    return _layout(rng, words)


def random_latin(rng: np.random.Generator, n_words: int) -> str:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = ["".join(rng.choice(letters, int(rng.integers(1, 11)))) for _ in range(n_words)]
    return _layout(rng, words, capital=True)


def word_salad(rng: np.random.Generator, text: str, keep_lines: bool) -> str:
    """A real document's words in random order; either one block of prose or the original line lengths."""
    lines = [line.split() for line in text.split("\n") if line.strip()]
    words = [w for line in lines for w in line]
    rng.shuffle(words)
    if not keep_lines:
        return _layout(rng, words, sentence=(8, 20)).replace("..", ".")
    out, at = [], 0
    for line in lines:
        out.append(" ".join(words[at : at + len(line)]))
        at += len(line)
    return "\n".join(out)


def lorem_ipsum(rng: np.random.Generator, n_words: int) -> str:
    words = [LOREM[i] for i in rng.integers(0, len(LOREM), n_words)]
    text = _layout(rng, words, capital=True)
    return ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " + text) if rng.random() < 0.5 else text


def keyword_stuffing(rng: np.random.Generator, sentences: list[str], keyword: str) -> str:
    """A few real sentences with a keyword repeated between and around them."""
    parts = []
    for s in sentences:
        parts.append(s)
        run = int(rng.integers(3, 15))
        sep = [" ", ", ", " | ", "\n"][int(rng.integers(0, 4))]
        parts.append(sep.join([keyword] * run))
    return ("\n" if rng.random() < 0.5 else " ").join(parts)


def repeated_line(rng: np.random.Generator, line: str) -> str:
    return "\n".join([line] * int(rng.integers(10, 200)))


def self_concatenation(rng: np.random.Generator, text: str) -> str:
    sep = ["\n\n", "\n", " "][int(rng.integers(0, 3))]
    return sep.join([text] * int(rng.integers(2, 6)))
