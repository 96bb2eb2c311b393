"""Character classes as bits, in tables over every code point: what the scan (scan.py) knows about a character.

The table covers the Basic Multilingual Plane and is built with unicodedata; characters beyond it (emoji, historic
scripts, rare Hanja) are treated as symbols.
"""

from __future__ import annotations

import unicodedata

import numpy as np

from onett_text.lexicon import KO_ENDING_SYLLABLES, KO_FINAL_SYLLABLES, KO_SUFFIX_ONLY_SYLLABLES

# class bits
LETTER, NUMBER, SPACE, NEWLINE, HANGUL, HANGUL_COMMON, JAMO, LATIN, HAN, UPPER = (1 << i for i in range(10))
TERMINAL, CLOSER, COMMA, BULLET, HASH, DOT, ELLIPSIS, CURLY, KO_ENDING, KO_SUFFIX_ONLY, KO_FINAL = (
    1 << i for i in range(10, 21))

BULLET_CHARS = "•●○◦▪■□◆◇▶►‣⁃∙·-*–—"
TERMINAL_CHARS = ".!?…。？！"
CLOSER_CHARS = "\"'”’)]」』》〉"


def _tables() -> tuple[np.ndarray, np.ndarray]:
    cls = np.zeros(0x10001, np.uint32)  # last entry: everything beyond the BMP
    lower = np.arange(0x10001, dtype=np.uint32)
    common = {bytes([a, b]).decode("euc_kr") for a in range(0xB0, 0xC9) for b in range(0xA1, 0xFF)}  # KS X 1001
    for c in range(0x10000):
        ch = chr(c)
        cat = unicodedata.category(ch)
        bits = 0
        if cat[0] == "L":
            bits |= LETTER
            low = ch.lower()
            if len(low) == 1:
                lower[c] = ord(low)
        if cat == "Lu":
            bits |= UPPER
        if cat[0] == "N":
            bits |= NUMBER
        if ch.isspace():
            bits |= SPACE
        if 0xAC00 <= c <= 0xD7A3:
            bits |= HANGUL | (HANGUL_COMMON if ch in common else 0)
        if 0x1100 <= c <= 0x11FF or 0x3130 <= c <= 0x318F:
            bits |= JAMO
        if (0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A or 0xC0 <= c <= 0x24F) and cat[0] == "L":
            bits |= LATIN
        if 0x3400 <= c <= 0x4DBF or 0x4E00 <= c <= 0x9FFF or 0xF900 <= c <= 0xFAFF:
            bits |= HAN
        cls[c] = bits
    for chars, bit in ((TERMINAL_CHARS, TERMINAL), (CLOSER_CHARS, CLOSER), (",;:", COMMA), (BULLET_CHARS, BULLET),
                       ("#", HASH), (".", DOT), ("…", ELLIPSIS), ("{}", CURLY),
                       ("".join(KO_ENDING_SYLLABLES), KO_ENDING), ("".join(KO_SUFFIX_ONLY_SYLLABLES), KO_SUFFIX_ONLY),
                       ("".join(KO_FINAL_SYLLABLES), KO_FINAL)):
        for ch in chars:
            cls[ord(ch)] |= bit
    cls[ord("\n")] |= NEWLINE
    return cls, lower


CLASS, LOWER = _tables()
# character counts per document come from one bincount over "count patterns": the class bits that matter for
# counting, numbered (a few dozen distinct patterns over the whole table)
COUNT_BITS = LETTER | NUMBER | HANGUL | HANGUL_COMMON | JAMO | LATIN | HAN | NEWLINE | CURLY | ELLIPSIS | HASH
PATTERNS, PATTERN = np.unique(CLASS & COUNT_BITS, return_inverse=True)
PATTERN = PATTERN.astype(np.uint8)


def _all_code_points(table: np.ndarray) -> np.ndarray:
    """`table` (BMP + one entry for beyond it) spread over every code point: np.take(full, cp) is cheaper than
    table[np.minimum(cp, 0x10000)] (no clipped copy, and take's fast path for a contiguous table)."""
    full = np.full(0x110000, table[0x10000], table.dtype)
    full[:0x10000] = table[:0x10000]
    return full


CLASS_ALL, LOWER_ALL, PATTERN_ALL = _all_code_points(CLASS), _all_code_points(LOWER), _all_code_points(PATTERN)
