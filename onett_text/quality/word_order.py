"""Word order: does each word fit the one before it? Catches shuffled word salad, which every count-based rule
misses because it has exactly the words, lengths and stop words of the real document it was made from.

Each whitespace word is reduced to a class at each end:
- Korean: how it ends (its last two characters up to its last Hangul syllable among the final three characters,
  i.e. the particle or ending; that syllable alone when the pair is rare) and how it begins (its first two syllables, or the first one; a
  digit; anything else), with a mark for a following comma or sentence punctuation;
- English: the word itself when it has at most four letters (function words), else its last / first two letters,
  with the same punctuation mark and a mark for a capital.
A table of pointwise mutual information (PMI) between the class that ends one word and the class that starts the
next, learned from public-domain and CC0 text (data/README.md, built by bench/build_word_order.py), scores every
pair of adjacent words within a line. The document's score is the mean over its pairs (Korean: over its words, see
below; at most 1,000, spread evenly over a longer document: ORDER_PAIRS): real text scores above zero
(its pairs follow grammar: '할' is followed by '수', 'of' by 'the'), shuffled text below (independent pairs have an
expected PMI of minus a divergence, never positive).

Korean is scored on more than that pair (word_scores): the same ending class is also paired with the ending of the
next word (tail to tail: '를' is followed by a verb form such as '위해', an adnominal '대한' by a noun with its
particle, '합니다.' by a sentence opener such as '제가', not by another '이다.'), and with the end of its line
('합니다.' ends lines, '대한' never does). Each word of a Korean document is scored against what
follows it: the next word on its line (tail->head + tail->tail + the PMI of being followed), or the end of the line
(the PMI of ending it, counted in both tables, so twice). Shuffled Korean then puts sentence endings mid-line and
random words at line ends as well as unrelated words side by side. Measured on documents of 30-49 words, at the
score that removes 1% of honest Korean text (petitions, comments, KLUE, news), 17% of shuffled text passes, against
45% with the pair score alone (bench/word_salad_eval.py has the distributions).

Classes are exact 64-bit keys packed from the scan's code-point arrays (scan.py); the table stores its vocabulary
as those keys (with readable labels), so the texts and the table are classified by the same code.
"""

from __future__ import annotations

import base64
import json
import zlib
from functools import cache
from importlib import resources

import numpy as np

from onett_text.charclass import CLASS_ALL, COMMA, HANGUL, LETTER, LOWER_ALL, NUMBER, TERMINAL, UPPER
from onett_text.lookup import Lookup, distinct
from onett_text.quality.measure import Batch, batch_measure, per_batch
from onett_text.quality.words import STATS_MIN_WORDS
from onett_text.quality.words import words as word_count
from onett_text.scan import Scan

DATA = resources.files("onett_text") / "data"  # the tables, built by bench/build_word_order.py
ORDER_PAIRS = 1000  # words scored per document at most
# documents whose word order is scored: Korean from 20 words (rule word_salad_short), English from STATS_MIN_WORDS
ORDER_MIN_WORDS = {"ko": 20, "en": STATS_MIN_WORDS}
SCALE = 16.0  # PMI stored as int8, in 1/16 nats
# class kinds (top bits of a class key)
KO_TAIL, KO_TAIL_NONE, KO_HEAD, KO_HEAD_DIGIT, KO_HEAD_OTHER = 1, 2, 3, 4, 5
EN_TAIL_NONE, EN_TAIL, EN_TAIL_SUFFIX, EN_HEAD, EN_HEAD_PREFIX, EN_HEAD_NONE = 6, 7, 8, 9, 10, 11


def word_features(sc: Scan, words: np.ndarray | None = None, starts: bool = True) -> dict[str, np.ndarray]:
    """For the given words of the scan (all by default), from their first and last few characters only:
    - first_alnum / last_alnum: position of the first / last letter or digit, skipping up to 3 punctuation marks
      at either end (-1 when none is found there),
    - last_hangul: position of the last Hangul syllable among the last 3 characters (-1: none), i.e. the particle
      or ending, before a closing mark such as '다.)',
    - mark: what follows the last letter or digit: 1 sentence punctuation, 2 comma-like, 0 nothing.
    starts=False leaves first_alnum out (all -1): Korean classes never read it."""
    ws, we = (sc.ws, sc.we) if words is None else (sc.ws[words], sc.we[words])
    cls = sc.cls
    if not len(ws):
        empty = np.zeros(0, np.int64)
        return {"first_alnum": empty, "last_alnum": empty, "last_hangul": empty, "mark": empty}

    def bits(pos, inside):
        """Class bits at `pos` where `inside` (the position is in its word), else 0 (take clips the rest)."""
        return np.where(inside, np.take(cls, pos, mode="clip"), 0)

    alnum = LETTER | NUMBER
    wlen = we - ws
    first = np.full(len(ws), -1, np.int64)
    last = np.full(len(ws), -1, np.int64)
    last_hangul = np.full(len(ws), -1, np.int64)
    mark = np.zeros(len(ws), np.int64)
    for k in (3, 2, 1, 0):  # nearest wins: looked at last
        inside = wlen > k  # the k-th character from either end is in the word
        if starts:
            p = ws + k
            first = np.where((bits(p, inside) & alnum) != 0, p, first)
        q = we - 1 - k
        b = bits(q, inside)
        last = np.where((b & alnum) != 0, q, last)
        if k < 3:
            last_hangul = np.where((b & HANGUL) != 0, q, last_hangul)
    for k in (2, 1, 0):  # the punctuation nearest to the last letter or digit decides
        q = last + 1 + k
        b = bits(q, (q < we) & (last >= 0))  # last >= 0 is in the word, so q is past its start
        mark = np.where((b & TERMINAL) != 0, 1, np.where((b & COMMA) != 0, 2, mark))
    return {"first_alnum": first, "last_alnum": last, "last_hangul": last_hangul, "mark": mark}


def _key(kind, a, b, c=0, d=0, flag=0, width=21):
    """Exact 64-bit key of a class: kind (4 bits), up to four characters, a 2-bit flag."""
    k = np.asarray(kind).astype(np.int64) << 60
    if width == 21:  # Korean: two full code points
        k = k | (np.asarray(a).astype(np.int64) << 23) | (np.asarray(b).astype(np.int64) << 2)
    else:  # English: four characters of 10 bits (lower-cased Latin fits; anything else shares one value)
        for i, ch in enumerate((a, b, c, d)):
            k = k | (np.minimum(np.asarray(ch).astype(np.int64), 1023) << (32 - 10 * i))
    return (k | np.asarray(flag).astype(np.int64)).astype(np.uint64)


def classes(sc: Scan, wf: dict[str, np.ndarray], words: np.ndarray, language: str, side: str) -> tuple[np.ndarray, np.ndarray]:
    """Class keys of the given words' `side` ('tail': how the word ends, 'head': how it begins): the detailed key
    and the coarse key to fall back on. `wf` holds word_features of exactly these words."""
    ws, we = sc.ws[words], sc.we[words]
    cp = sc.cp

    def at(pos, lo, hi):
        return np.where((pos >= lo) & (pos < hi), np.take(cp, pos, mode="clip"), 0).astype(np.int64)

    if language == "ko":
        if side == "tail":
            lh, mark = wf["last_hangul"], wf["mark"]
            has = lh >= 0
            end, prev = at(lh, ws, we) * has, at(lh - 1, ws, we) * has
            kind = np.where(has, KO_TAIL, KO_TAIL_NONE)
            return _key(kind, prev, end, flag=mark), _key(kind, 0, end, flag=mark)
        c0, c1 = at(ws, ws, we), at(ws + 1, ws, we)
        cls0, cls1 = np.take(CLASS_ALL, c0), np.take(CLASS_ALL, c1)
        hangul0 = (cls0 & HANGUL) != 0
        kind = np.where(hangul0, KO_HEAD, np.where((cls0 & NUMBER) != 0, KO_HEAD_DIGIT, KO_HEAD_OTHER))
        h0 = np.where(hangul0, c0, 0)
        h1 = np.where(hangul0 & ((cls1 & HANGUL) != 0), c1, 0)
        return _key(kind, h0, h1), _key(kind, h0, 0)
    fa, la = wf["first_alnum"], wf["last_alnum"]
    has = (fa >= 0) & (la >= fa)
    short = has & (la - fa + 1 <= 4)
    zero = np.zeros(len(words), np.int64)

    def low(pos):
        return np.take(LOWER_ALL, at(pos, fa, la + 1)).astype(np.int64)

    l0, l1 = low(fa), low(fa + 1)
    l2, l3 = np.where(short, low(fa + 2), zero), np.where(short, low(fa + 3), zero)
    if side == "tail":
        key = _key(np.where(short, EN_TAIL, np.where(has, EN_TAIL_SUFFIX, EN_TAIL_NONE)),
                   np.where(short, l0, low(la - 1)), np.where(short, l1, low(la)), l2, l3, wf["mark"], width=10)
    else:
        cap = ((np.take(CLASS_ALL, at(fa, fa, la + 1)) & UPPER) != 0).astype(np.int64)
        key = _key(np.where(short, EN_HEAD, np.where(has, EN_HEAD_PREFIX, EN_HEAD_NONE)), l0, l1, l2, l3, cap, width=10)
    return key, key


def resolve(full: np.ndarray, short: np.ndarray, lookup: Lookup, other: int) -> np.ndarray:
    """Row in the table: the detailed class if the table has it, else the coarse one, else OTHER."""
    row = lookup.row(full)
    missing = row < 0
    row[missing] = lookup.row(short[missing], default=other)
    return row


@cache
def _data(language: str) -> dict:
    return json.loads((DATA / f"word_order_{language}.json").read_text(encoding="utf-8"))


def _table(packed: str, rows: int, cols: int) -> np.ndarray:
    raw = zlib.decompress(base64.b64decode(packed))
    return np.frombuffer(raw, dtype=np.int8).reshape(rows, cols).astype(np.float32) / SCALE


@cache
def model(language: str) -> tuple[Lookup, Lookup, np.ndarray]:
    """Lookups of the tail and head classes, and the PMI table (its last row and column are OTHER)."""
    data = _data(language)
    tails = Lookup(np.array([int(k) for k in data["tail_keys"]], np.uint64))
    heads = Lookup(np.array([int(k) for k in data["head_keys"]], np.uint64))
    return tails, heads, _table(data["pmi_int8_zlib_base64"], len(data["tail_keys"]) + 1, len(data["head_keys"]) + 1)


@cache
def chain(language: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Korean: the tail->tail PMI table and the line-end PMI of each tail class (row 0: the word ends its line,
    row 1: a word follows it on its line), both over the tail classes of `model` (last entry OTHER). None for a
    language whose table has neither (English)."""
    data = _data(language)
    if "tail_tail_pmi_int8_zlib_base64" not in data:
        return None
    rows = len(data["tail_keys"]) + 1
    tail_tail = _table(data["tail_tail_pmi_int8_zlib_base64"], rows, rows)
    return tail_tail, _table(data["line_end_pmi_int8_zlib_base64"], 2, rows)


def _union(n_words: int, *selections: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The words of all `selections` (positions), each once and in order, and where each word is in that union
    (valid for the selected words)."""
    needed = np.zeros(n_words, bool)
    for words in selections:
        needed[words] = True
    return np.flatnonzero(needed), np.cumsum(needed) - 1


def class_rows(sc: Scan, words: np.ndarray, language: str, starts: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Rows in the `language` table of the tail and the head class of each of the given words (positions).

    Worked out once per distinct word (by its hash): a word's classes depend only on its characters (and, for a
    word with no letter or digit, on the scan's first characters, the same for all its words), and a batch of
    text repeats its words: a fifth (English) to a third (Korean) of them are distinct."""
    tails, heads, pmi = model(language)
    once, each = distinct(sc.word_hash[words])
    words = words[once]
    features = word_features(sc, words, starts=starts)
    tail = resolve(*classes(sc, features, words, language, "tail"), tails, pmi.shape[0] - 1)
    head = resolve(*classes(sc, features, words, language, "head"), heads, pmi.shape[1] - 1)
    return tail[each], head[each]


def pair_scores(sc: Scan, pairs: np.ndarray, language: str) -> np.ndarray:
    """PMI of each selected word (`pairs`: boolean over words) with the word after it."""
    _, _, pmi = model(language)
    first = np.flatnonzero(pairs)
    union, at = _union(len(sc.ws), first, first + 1)
    tail, head = class_rows(sc, union, language)
    return pmi[tail[at[first]], head[at[first + 1]]]


LINE_END_WEIGHT = 2.0  # a line end stands for the next word in both tables (tail->head and tail->tail)


def word_scores(sc: Scan, words: np.ndarray, language: str) -> tuple[np.ndarray, np.ndarray]:
    """Each selected word (`words`: boolean over words) scored against what follows it; returns the positions of
    the words scored and their scores.

    English (no chain table): the word's pair score with the next word on its line (pair_scores); a word that ends
    its line is not scored. Korean: a word followed on its line scores tail->head + tail->tail + the PMI of being
    followed; a word that ends its line (or the document) scores LINE_END_WEIGHT times the PMI of ending it.
    The classes are worked out once for the selected words and the words after them (class_rows)."""
    follows = np.zeros(len(sc.ws), bool)
    follows[:-1] = ~sc.w_line_start[1:]  # a new line or a new document starts a line
    chained = chain(language)
    if chained is None:
        return np.flatnonzero(words & follows), pair_scores(sc, words & follows, language)
    _, _, pmi = model(language)
    tail_tail, line_end = chained
    scored = np.flatnonzero(words)
    followed = follows[scored]
    nxt = scored[followed] + 1
    union, at = _union(len(sc.ws), scored, nxt)
    tail, head = class_rows(sc, union, language, starts=False)  # Korean classes never read first_alnum
    own = tail[at[scored]]
    score = LINE_END_WEIGHT * line_end[0, own]
    lead = own[followed]
    score[followed] = pmi[lead, head[at[nxt]]] + tail_tail[lead, tail[at[nxt]]] + line_end[1, lead]
    return scored, score


@per_batch
def _order(b: Batch) -> tuple[np.ndarray, np.ndarray]:
    """Per document: the sum of its word scores and how many words were scored. Scored with the document
    language's table on at most ORDER_PAIRS words, spread evenly over the document (the mean of a thousand pairs is
    as good as the mean of all of them); each word against what follows it (word_scores: English only where a
    word follows on the same line)."""
    sc = b.scan
    n, w_doc, count = b.n, sc.w_doc, b[word_count]
    sampled = np.zeros(len(w_doc), bool)
    if len(w_doc) > 1:
        first_word = np.searchsorted(w_doc, np.arange(n))
        stride = np.maximum(1, -(-count // ORDER_PAIRS))
        sampled = (np.arange(len(w_doc)) - first_word[w_doc]) % stride[w_doc] == 0
    order_sum, order_pairs = np.zeros(n), np.zeros(n)
    for language, min_words in ORDER_MIN_WORDS.items():
        sel = ((b.languages == language) & (count >= min_words))[w_doc] & sampled
        if not sel.any():
            continue
        scored, score = word_scores(sc, sel, language)
        order_sum += np.bincount(w_doc[scored], weights=score, minlength=n)
        order_pairs += np.bincount(w_doc[scored], minlength=n)
    return order_sum, order_pairs


@batch_measure
def word_pairs(b: Batch) -> np.ndarray:
    """Words scored for their order (English: word pairs)."""
    return _order(b)[1]


@batch_measure
def word_order_score(b: Batch) -> np.ndarray:
    """Mean word-order score: above 0 for real text, below for shuffled text (0 where nothing was scored)."""
    order_sum, order_pairs = _order(b)
    return np.divide(order_sum, order_pairs, out=np.zeros(b.n), where=order_pairs > 0)
