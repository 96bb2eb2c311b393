"""Everything the quality rules look at, measured for a whole frame: one row per document, one column per measure.

The texts are scanned in batches of a few megabytes (scan.py: code points, words, lines and paragraphs as flat
arrays); every measure is then a count, sum, maximum or hash over segments of those arrays (numpy), and the two
patterns that need a real regular expression (markup tags, boilerplate phrases) are counted by polars over the
whole frame. No Python loop runs per document or per word: Python only loops over batches (run on several
threads, since numpy releases the GIL in its array loops) and over the rules.

A word is a run of non-whitespace characters (for Korean an eojeol: a stem with its particles and endings), a
line a non-empty line, a paragraph a block between blank lines. Every ratio is 0 for a document that has nothing
to divide by.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np
import polars as pl

from onett_assets.preprocessing import repetition, word_order
from onett_assets.preprocessing.lexicon import (
    EN_FUNCTION_WORDS,
    EN_STOP_WORDS,
    KO_FUNCTION_WORDS,
    LOREM_WORDS,
)
from onett_assets.preprocessing.scan import (
    BULLET, CLOSER, CURLY, DOT, ELLIPSIS, HAN, HANGUL, HANGUL_COMMON, HASH, JAMO, KO_ENDING, KO_FINAL, KO_SUFFIX_ONLY, LATIN,
    LETTER, NEWLINE, NUMBER, SPACE, TERMINAL, Lookup, _runs, cached, scan,
)

STATS_MIN_WORDS = 50  # Gopher's minimum document length: word n-gram and word-order statistics start here
SHORT_STATS_MIN_WORDS = 10  # repeated lines, paragraphs and words are padding at any length from here
BATCH_BYTES = 1 << 20  # text per scan batch: its arrays take about 50 bytes per byte of text
BATCH_DOCS = 1 << 19
THREADS = int(os.environ.get("ONETT_SCAN_THREADS") or min(4, os.cpu_count() or 1))  # batches measured at once
SHORT_LINE_CHARS = 30  # FineWeb: a line of at most 30 characters is short
LONG_TOKEN_CHARS = 30  # a "word" this long is a link, an encoded blob or a hash, not language
ORDER_PAIRS = 1000  # word pairs scored per document at most
# documents whose word order is scored: Korean from 20 words (rule word_salad_short), English from STATS_MIN_WORDS
ORDER_MIN_WORDS = {"ko": 20, "en": STATS_MIN_WORDS}

t = pl.col("text")


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


def _batch(texts: pl.Series, languages: np.ndarray, decoded: tuple | None = None) -> dict[str, np.ndarray]:
    sc = scan(texts, decoded)
    n = sc.n_docs
    cls = sc.cls
    out: dict[str, np.ndarray] = {}

    def has(bits: int) -> np.ndarray:
        return (cls & bits) != 0

    # --- characters
    out["chars"] = np.diff(sc.doc_char)
    out["letters"] = sc.count(LETTER)
    out["letters_digits"] = sc.count(LETTER | NUMBER)
    out["hangul"] = sc.count(HANGUL | JAMO)
    out["hangul_syllables"] = sc.count(HANGUL)
    out["rare_hangul"] = sc.count(HANGUL, without=HANGUL_COMMON)
    out["latin"] = sc.count(LATIN)
    out["han"] = sc.count(HAN)
    out["newlines"] = sc.count(NEWLINE)
    out["curly"] = sc.count(CURLY)
    hashtag = has(HASH)
    hashtag[:-1] &= (cls[1:] & (SPACE | HASH)) == 0
    if len(hashtag):
        hashtag[-1] = False
    hashtag[sc.doc_char[1:-1][sc.doc_char[1:-1] > 0] - 1] = False  # a '#' ending a document is not a hashtag
    out["hashtags"] = sc.per_doc_chars(hashtag)
    # ellipses: '…' or every three dots of a run of dots (as re.findall(r"\.\.\.|…") counts them)
    dot_start, dot_end = _runs(has(DOT), sc.doc_char)
    out["ellipses"] = sc.count(ELLIPSIS) + np.bincount(sc.char_doc[dot_start], weights=(dot_end - dot_start) // 3,
                                                       minlength=n).astype(np.int64)

    # --- words
    w_doc = sc.w_doc
    wlen = (sc.we - sc.ws).astype(np.int64)
    out["words"] = np.bincount(w_doc, minlength=n)
    word_bits = sc.word_bits
    out["alpha_words"] = sc.word_sum((word_bits & LETTER) != 0)
    # long tokens: 30+ characters without Hangul (Korean written without spaces is language, a link is not)
    no_hangul = (word_bits & HANGUL) == 0
    out["long_token_chars"] = sc.word_sum(np.where((wlen >= LONG_TOKEN_CHARS) & no_hangul, wlen, 0))
    # links and e-mail addresses: words with '://', starting with 'www.', or with an '@' followed by a '.'
    # (positions of these few characters are looked up in the word starts, no pass over all characters)
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
    out["links"] = sc.word_sum(link)
    h = sc.word_hash  # words as written: 'the' and 'The' count, 'the,' does not (rules have margin)
    word_ko = (languages == "ko")[w_doc]  # compared per document: languages is an array of Python strings
    last_hangul = word_order.last_hangul(sc)
    lists = _word_lists().row(h, default=0)  # WORD_LISTS bits of each word

    def listed(bit: int) -> np.ndarray:
        return (lists & bit) != 0

    out["en_stop_words"] = sc.word_sum(listed(EN_STOP))
    out["ko_endings"] = sc.word_sum((last_hangul >= 0) & ((cls[np.maximum(last_hangul, 0)] & KO_ENDING) != 0))
    first_cp = sc.cp[sc.ws] if len(sc.ws) else np.zeros(0, np.uint32)
    suffix_first = ((cls[sc.ws] & KO_SUFFIX_ONLY) != 0) if len(sc.ws) else np.zeros(0, bool)
    suffix_first &= ~((wlen == 1) & (first_cp == ord("을")))  # 을 alone names the second party in legal text (갑/을)
    out["ko_suffix_first"] = sc.word_sum(suffix_first)
    out["lorem_words"] = sc.word_sum(listed(LOREM))
    # keyword stuffing: the most frequent word that is not a function word (those get keys that never repeat)
    no_alnum = (word_bits & (LETTER | NUMBER)) == 0
    function = np.where(word_ko, listed(KO_FUNCTION), listed(EN_FUNCTION)) | no_alnum
    content = h.copy()
    content[function] = np.arange(int(function.sum()), dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(1)
    # the statistics below are only read by rules for documents of some length (STATS_MIN_WORDS words for word
    # n-grams and word order, SHORT_STATS_MIN_WORDS for repeated lines and words): shorter documents are left out
    # of the work and get 0
    some = out["words"] >= SHORT_STATS_MIN_WORDS
    some_compact, m_some = np.cumsum(some) - 1, int(some.sum())
    sw = some[w_doc]
    out["top_content_word"], out["top3_content_words"] = np.zeros(n), np.zeros(n)
    out["top_content_word"][some], out["top3_content_words"][some] = repetition.top_counts(
        some_compact[w_doc[sw]], content[sw], m_some, 3)
    long_doc = out["words"] >= STATS_MIN_WORDS
    compact = np.cumsum(long_doc) - 1  # document number among the long ones
    m = int(long_doc.sum())
    lw = long_doc[w_doc]
    rep = repetition.word_repetition(compact[w_doc[lw]], h[lw], wlen[lw], out["chars"][long_doc])
    for c, values in rep.items():
        out[c] = np.zeros(n)
        out[c][long_doc] = values

    # word order, scored with the document language's table on at most ORDER_PAIRS words per document, spread
    # evenly over it (the mean of a thousand pairs is as good as the mean of all of them); each word is scored
    # against what follows it (word_order.word_scores: English only where a word follows on the same line)
    sampled = np.zeros(len(w_doc), bool)
    if len(w_doc) > 1:
        first_word = np.searchsorted(w_doc, np.arange(n))
        stride = np.maximum(1, -(-out["words"] // ORDER_PAIRS))
        sampled = (np.arange(len(w_doc)) - first_word[w_doc]) % stride[w_doc] == 0
    order_sum, order_pairs = np.zeros(n), np.zeros(n)
    for language, min_words in ORDER_MIN_WORDS.items():
        sel = ((languages == language) & (out["words"] >= min_words))[w_doc] & sampled
        if not sel.any():
            continue
        scored, score = word_order.word_scores(sc, sel, language)
        order_sum += np.bincount(w_doc[scored], weights=score, minlength=n)
        order_pairs += np.bincount(w_doc[scored], minlength=n)
    out["word_pairs"] = order_pairs  # words scored (English: word pairs)
    out["word_order_score"] = np.divide(order_sum, order_pairs, out=np.zeros(n), where=order_pairs > 0)

    # --- lines
    ls, le, l_doc = sc.ls, sc.le, sc.l_doc
    out["lines"] = np.bincount(l_doc, minlength=n)
    llen = le - ls
    if len(ls):
        out["bullet_lines"] = sc.per_doc(l_doc, (cls[ls] & BULLET) != 0)
        last = cls[le - 1]
        before = cls[np.maximum(le - 2, ls)]
        before2 = cls[np.maximum(le - 3, ls)]
        terminal = ((last & TERMINAL) != 0) | (((last & CLOSER) != 0) & (llen >= 2) & ((before & TERMINAL) != 0)) | (
            ((last & CLOSER) != 0) & ((before & CLOSER) != 0) & (llen >= 3) & ((before2 & TERMINAL) != 0))
        out["terminal_lines"] = sc.per_doc(l_doc, terminal)
        # Korean: a line ending in a sentence-final syllable ends a sentence too, period or not
        ko_final = (last & KO_FINAL) != 0
        out["terminal_lines_ko"] = sc.per_doc(l_doc, terminal | ko_final)
        ellipsis_end = ((last & ELLIPSIS) != 0) | ((llen >= 3) & ((last & before & before2 & DOT) != 0))
        out["ellipsis_lines"] = sc.per_doc(l_doc, ellipsis_end)
        out["short_lines"] = sc.per_doc(l_doc, llen <= SHORT_LINE_CHARS)
    else:
        for c in ("bullet_lines", "terminal_lines", "terminal_lines_ko", "ellipsis_lines", "short_lines"):
            out[c] = np.zeros(n)
    out["paragraphs"] = np.bincount(sc.p_doc, minlength=n)
    for count_col, chars_col, start, end, doc in (("dup_lines", "dup_line_chars", ls, le, l_doc),
                                                  ("dup_paras", "dup_para_chars", sc.ps, sc.pe, sc.p_doc)):
        keep = some[doc]
        hashes = sc.segment_hash(start, end)[keep]
        count, chars = repetition.element_repetition(some_compact[doc[keep]], hashes, (end - start)[keep], m_some)
        out[count_col], out[chars_col] = np.zeros(n), np.zeros(n)
        out[count_col][some], out[chars_col][some] = count, chars
    return out


# HTML / XML markup: a known tag name after '<' or '</' (so '<nick>' in a chat log and '<개정 2015.11.16>' in a
# statute are not markup), comments and doctype declarations
MARKUP = (r"(?i)</?(?:a|abbr|b|body|blockquote|br|button|center|code|dd|div|dl|dt|em|font|form|h[1-6]|head|hr|html|i|"
          r"iframe|img|input|label|li|link|meta|nav|noscript|ol|option|p|pre|script|select|small|span|strong|style|"
          r"sub|sup|table|tbody|td|th|thead|title|tr|u|ul)(?:\s[^<>]{0,400})?/?>|<!--|<!doctype")
# Boilerplate phrases (English): C4's web boilerplate (javascript, cookies, privacy policy, terms of use) and the
# mass-mail equivalents (unsubscribe and removal instructions, click here, order now). Honest prose may use one
# now and then; boilerplate repeats them.
POLICY = (
    r"(?i)\b(?:javascript|cookies? policy|(?:uses?|use of) cookies|privacy policy|terms of (?:use|service)|"
    r"unsubscribe|opt[- ]?(?:out|in)|remov(?:e|al) (?:yourself|you|your (?:name|address|e-?mail))|to be removed|"
    r"be removed from|removal (?:link|instructions|request)|no longer wish to receive|do not wish to receive|"
    r"mailing list|this (?:e-?mail|message) (?:is|was) sent|order now|call now|act now|"
    r"click (?:here|below|on the link)|limited time|money back|no obligation|risk[- ]free|100% (?:free|guaranteed)|"
    r"toll[- ]free|free (?:gift|trial|info|information)|special offer|visit our (?:web ?site|site))\b"
).replace(r"\b", r"(?-u:\b)")  # ASCII word boundaries: the phrases are ASCII, and Unicode \b is 15x slower


def _regex_counts(frame: pl.DataFrame) -> pl.DataFrame:
    """Markup tags in every document; C4's web boilerplate phrases and mass-mail phrases in English documents only
    (C4 is English). Both patterns start with a literal, so the regex engine skips through the text quickly."""
    english = frame["language"] == "en"
    policy = np.zeros(frame.height, np.int64)
    if english.any():
        policy[english.to_numpy()] = frame.filter(english).select(t.str.count_matches(POLICY)).to_series().to_numpy()
    # every markup match starts with '<': the regex runs only on the few documents that have one
    angle = frame["text"].str.contains("<", literal=True).fill_null(False)
    markup = np.zeros(frame.height, np.uint32)
    if angle.any():
        markup[angle.to_numpy()] = frame.filter(angle).select(t.str.count_matches(MARKUP)).to_series().to_numpy()
    return pl.DataFrame({"markup_tags": pl.Series(markup, dtype=pl.UInt32), "boilerplate_phrases": policy})


def _ratio(num: str, den: str) -> pl.Expr:
    return pl.when(pl.col(den) > 0).then(pl.col(num).cast(pl.Float64) / pl.col(den)).otherwise(0.0)


def measure(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per document of `frame` (columns `text`, normalized, and `language`) with every measure."""
    texts = frame["text"].fill_null("")
    languages = frame["language"].fill_null("other").to_numpy()
    size = texts.str.len_bytes().to_numpy().astype(np.int64)
    # batches of about BATCH_BYTES of text and at most BATCH_DOCS documents (repetition keys hold the document
    # number in 20 bits)
    by_bytes = (np.cumsum(size) - size) // BATCH_BYTES
    by_count = np.arange(len(size)) // BATCH_DOCS
    cuts = np.flatnonzero((np.diff(by_bytes) != 0) | (np.diff(by_count) != 0)) + 1
    bounds = [0, *cuts.tolist(), len(size)]
    known = cached(texts)  # decoded and counted by detect_language just before

    def decoded(a: int, b: int) -> tuple | None:
        if known is None:
            return None
        lo, hi = known.doc_char[a], known.doc_char[b]
        return known.cp[lo:hi], known.doc_char[a : b + 1] - lo, known.counts[a:b]

    jobs = [(texts.slice(a, b - a), languages[a:b], decoded(a, b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    if len(jobs) > 1 and THREADS > 1:
        # numpy releases the GIL in its array loops: batches overlap on several cores
        with ThreadPoolExecutor(THREADS) as pool:
            parts = list(pool.map(lambda job: _batch(*job), jobs))
    else:
        parts = [_batch(*job) for job in jobs]
    if not parts:
        parts = [_batch(texts, languages)]
    m = pl.DataFrame({k: np.concatenate([p[k] for p in parts]) for k in parts[0]})
    m = pl.concat([m, _regex_counts(frame.select(text=texts, language=frame["language"]))], how="horizontal")
    return m.with_columns(
        mean_word_length=_ratio("letters_digits", "words"),
        alpha_word_frac=_ratio("alpha_words", "words"),
        hashtag_ratio=_ratio("hashtags", "words"),
        ellipsis_ratio=_ratio("ellipses", "words"),
        bullet_line_frac=_ratio("bullet_lines", "lines"),
        ellipsis_line_frac=_ratio("ellipsis_lines", "lines"),
        en_stop_word_frac=_ratio("en_stop_words", "words"),
        ko_ending_frac=_ratio("ko_endings", "words"),
        ko_suffix_start_frac=_ratio("ko_suffix_first", "words"),
        lorem_frac=_ratio("lorem_words", "words"),
        top_content_word_frac=_ratio("top_content_word", "words"),
        top3_content_word_frac=_ratio("top3_content_words", "words"),
        dup_line_frac=_ratio("dup_lines", "lines"),
        dup_line_char_frac=_ratio("dup_line_chars", "chars"),
        dup_para_frac=_ratio("dup_paras", "paragraphs"),
        dup_para_char_frac=_ratio("dup_para_chars", "chars"),
        terminal_line_frac=pl.when(frame["language"] == "ko").then(_ratio("terminal_lines_ko", "lines")).otherwise(
            _ratio("terminal_lines", "lines")),
        short_line_frac=_ratio("short_lines", "lines"),
        newline_ratio=_ratio("newlines", "words"),
        rare_hangul_frac=_ratio("rare_hangul", "hangul_syllables"),
        curly_bracket_ratio=_ratio("curly", "words"),
        boilerplate_per_100_words=_ratio("boilerplate_phrases", "words") * 100,
        markup_ratio=_ratio("markup_tags", "words"),
        link_ratio=_ratio("links", "words"),
        long_token_frac=_ratio("long_token_chars", "chars"),
    )
