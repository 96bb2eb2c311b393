"""Measures over whitespace words (for Korean an eojeol: a stem with its particles and endings): how many, how
long, which ones are links, stop words, particles or lorem ipsum, and the per-word ratios the rules compare."""

from __future__ import annotations

from functools import cache

import numpy as np
import polars as pl

from onett_text.charclass import HANGUL, KO_ENDING, KO_SUFFIX_ONLY, LETTER
from onett_text.lexicon import EN_FUNCTION_WORDS, EN_STOP_WORDS, KO_FUNCTION_WORDS, LOREM_WORDS
from onett_text.lookup import Lookup
from onett_text.quality.characters import chars, curly, ellipses, hashtags, letters_digits
from onett_text.quality.measure import Batch, batch_measure, by_language, per_batch, ratio
from onett_text.scan import Scan, scan

STATS_MIN_WORDS = 50  # Gopher's minimum document length: word n-gram and word-order statistics start here
SHORT_STATS_MIN_WORDS = 10  # repeated lines, paragraphs and words are padding at any length from here
LONG_TOKEN_CHARS = 30  # a "word" this long is a link, an encoded blob or a hash, not language

# the word lists looked up in every batch, each a bit of one lookup (one probe per word for all of them)
EN_STOP, LOREM, KO_FUNCTION, EN_FUNCTION = 1, 2, 4, 8
WORD_LISTS = {EN_STOP: frozenset(EN_STOP_WORDS), LOREM: LOREM_WORDS, KO_FUNCTION: KO_FUNCTION_WORDS,
              EN_FUNCTION: EN_FUNCTION_WORDS}


@cache
def _word_set(words: frozenset[str]) -> np.ndarray:
    """Hashes of a word list, as written and capitalized (computed by the same scan as the texts)."""
    forms = sorted(set(words) | {w[:1].upper() + w[1:] for w in words})
    sc = scan(pl.Series([" ".join(forms)]))
    return np.unique(sc.segment_hash(sc.ws, sc.we))


@cache
def _word_lists() -> Lookup:
    """Lookup of every WORD_LISTS hash, its row the bits of the lists that have it."""
    keys = np.unique(np.concatenate([_word_set(words) for words in WORD_LISTS.values()]))
    return Lookup(keys, sum(np.isin(keys, _word_set(words)) * bit for bit, words in WORD_LISTS.items()))


@per_batch
def word_lengths(b: Batch) -> np.ndarray:
    """Characters of each word."""
    return (b.scan.we - b.scan.ws).astype(np.int64)


@per_batch
def listed(b: Batch) -> np.ndarray:
    """WORD_LISTS bits of each word, as written: 'the' and 'The' count, 'the,' does not (rules have margin)."""
    return _word_lists().row(b.scan.word_hash, default=0)


def last_hangul(sc: Scan) -> np.ndarray:
    """Per word: position of the last Hangul syllable among its last 3 characters (-1: none)."""
    out = np.full(len(sc.ws), -1, np.int64)
    wlen = sc.we - sc.ws
    for k in (2, 1, 0):
        q = sc.we - 1 - k
        out = np.where((wlen > k) & ((np.take(sc.cls, q, mode="clip") & HANGUL) != 0), q, out)
    return out


@batch_measure
def words(b: Batch) -> np.ndarray:
    """Whitespace words."""
    return np.bincount(b.scan.w_doc, minlength=b.n)


@batch_measure
def alpha_words(b: Batch) -> np.ndarray:
    """Words that contain a letter."""
    return b.scan.word_sum((b.scan.word_bits & LETTER) != 0)


@batch_measure
def long_token_chars(b: Batch) -> np.ndarray:
    """Characters in words of LONG_TOKEN_CHARS or more without Hangul (Korean written without spaces is language,
    a link is not)."""
    wlen = word_lengths(b)
    no_hangul = (b.scan.word_bits & HANGUL) == 0
    return b.scan.word_sum(np.where((wlen >= LONG_TOKEN_CHARS) & no_hangul, wlen, 0))


@batch_measure
def links(b: Batch) -> np.ndarray:
    """Links and e-mail addresses: words with '://', starting with 'www.', or with an '@' followed by a '.'
    (positions of these few characters are looked up in the word starts, no pass over all characters)."""
    sc = b.scan
    cp = sc.cp
    colon = np.flatnonzero(cp[:-2] == ord(":")) if len(cp) > 2 else np.zeros(0, np.int64)
    scheme = colon[(cp[colon + 1] == ord("/")) & (cp[colon + 2] == ord("/"))]
    link = np.zeros(len(sc.ws), bool)
    word_of = lambda pos: np.searchsorted(sc.ws, pos, side="right") - 1  # noqa: E731
    link[word_of(scheme)] = True
    at_sign = np.flatnonzero(cp == ord("@"))
    if len(at_sign):
        dots = np.flatnonzero(cp == ord("."))
        w = word_of(at_sign)
        nxt = np.minimum(np.searchsorted(dots, at_sign), max(len(dots) - 1, 0))
        if len(dots):
            link[w[(dots[nxt] > at_sign) & (dots[nxt] < sc.we[w] - 1)]] = True
    www = np.flatnonzero(cp[:-3] == ord("w")) if len(cp) > 3 else np.zeros(0, np.int64)
    www = www[((cp[www + 1] | 0x20) == ord("w")) & ((cp[www + 2] | 0x20) == ord("w")) & (cp[www + 3] == ord("."))]
    www = www[sc.ws[word_of(www)] == www] if len(www) else www  # at the start of a word
    link[word_of(www)] = True
    return sc.word_sum(link)


@batch_measure
def en_stop_words(b: Batch) -> np.ndarray:
    """Words that are one of Gopher's 8 English stop words (lexicon.EN_STOP_WORDS)."""
    return b.scan.word_sum((listed(b) & EN_STOP) != 0)


@batch_measure
def ko_endings(b: Batch) -> np.ndarray:
    """Words whose last Hangul syllable (among their last three characters) closes a particle or verb ending
    (lexicon.KO_ENDING_SYLLABLES)."""
    sc = b.scan
    last = last_hangul(sc)
    return sc.word_sum((last >= 0) & ((sc.cls[np.maximum(last, 0)] & KO_ENDING) != 0))


@batch_measure
def ko_suffix_first(b: Batch) -> np.ndarray:
    """Words starting with a syllable that only ever closes a word (lexicon.KO_SUFFIX_ONLY_SYLLABLES)."""
    sc = b.scan
    first_cp = sc.cp[sc.ws] if len(sc.ws) else np.zeros(0, np.uint32)
    suffix_first = ((sc.cls[sc.ws] & KO_SUFFIX_ONLY) != 0) if len(sc.ws) else np.zeros(0, bool)
    # 을 alone names the second party in legal text (갑/을)
    suffix_first &= ~((word_lengths(b) == 1) & (first_cp == ord("을")))
    return sc.word_sum(suffix_first)


@batch_measure
def lorem_words(b: Batch) -> np.ndarray:
    """Words of the lorem ipsum vocabulary (lexicon.LOREM_WORDS)."""
    return b.scan.word_sum((listed(b) & LOREM) != 0)


mean_word_length = ratio("mean_word_length", letters_digits, words, "letters and digits per word")
alpha_word_frac = ratio("alpha_word_frac", alpha_words, words, "share of the words that contain a letter")
hashtag_ratio = ratio("hashtag_ratio", hashtags, words, "hashtags per word")
ellipsis_ratio = ratio("ellipsis_ratio", ellipses, words, "ellipses per word")
curly_bracket_ratio = ratio("curly_bracket_ratio", curly, words, "curly brackets per word")
link_ratio = ratio("link_ratio", links, words, "links and e-mail addresses per word")
long_token_frac = ratio("long_token_frac", long_token_chars, chars,
                        "share of the characters in words of 30+ characters without Hangul")
en_stop_word_frac = ratio("en_stop_word_frac", en_stop_words, words, "share of the words that are English stop words")
ko_ending_frac = ratio("ko_ending_frac", ko_endings, words,
                       "share of the words that end in a Korean particle or verb ending")
ko_suffix_start_frac = ratio("ko_suffix_start_frac", ko_suffix_first, words,
                             "share of the words that start with a syllable that only closes words")
lorem_frac = ratio("lorem_frac", lorem_words, words, "share of the words that are lorem ipsum")
stop_word_frac = by_language("stop_word_frac", ko_ending_frac, en_stop_word_frac,
                             "Korean: ko_ending_frac; any other language: en_stop_word_frac")
