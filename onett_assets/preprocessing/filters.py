"""Quality rules: what a document must be to be paid for, as named units with their thresholds in one place.

Every token that passes these rules is paid, so they decide who is paid: honest Korean and English prose must pass
in full, junk and padding must earn nothing. `apply_rules` judges every document of a frame, and the first rule a
document fails (in `RULES` order) is recorded with its group and a reason in plain words that gives the measured
value and the threshold.

The rules follow Gopher (Rae et al. 2021) and FineWeb / FineWeb-2 (datatrove), with Korean thresholds measured on
whitespace words (eojeol) rather than FineWeb-2's morphemes, plus rules for machine filler. The groups become the
stages of the contributor's token funnel, in this order:

    length -> language -> gopher_quality -> gopher_repetition -> line_rules -> filler -> spam

Statistics over a few words are noise, so most rules only judge documents of at least `STATS_MIN_WORDS` (50)
words, Gopher's own minimum; the rules that stay reliable on little text (repeated lines, markup, links, random
syllables, lorem ipsum, a stuffed keyword) start at 5 to 20 words (each rule's `min_words`); Korean word order is
judged from 20 words with a bar that rises with length (word_salad_short, _medium, word_salad, _long). Unlike Gopher, a
document is never rejected for having fewer than 50 words: short honest texts are paid (`too_short` asks for 8
letters or digits).

To tune or switch off a rule, edit `THRESHOLDS` (a language missing from a rule's entry, or None, switches it off
for that language). The distributions quoted beside each threshold were measured with `bench/filter_eval.py` on
../shared/corpora (documents of at least 50 words unless said otherwise): "court" ko_court_precedents, "laws"
ko_laws, "petitions" ko_petitions, "sotu" en_state_of_the_union, "moby" en_moby_dick; pN is the N-th percentile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from onett_assets.preprocessing import spam
from onett_assets.preprocessing.language import detect_language
from onett_assets.preprocessing.measures import ORDER_MIN_WORDS, SHORT_STATS_MIN_WORDS, STATS_MIN_WORDS, measure

LINES_MIN = 3  # line-share rules need at least this many lines (a one-line text is all or nothing)
ALL = "*"  # a threshold for every language

# rule name -> {language: threshold}. 'ko' and 'en' as detected by language.detect_language, ALL for any language.
THRESHOLDS: dict[str, dict[str, float | None]] = {
    # --- length
    "empty": {ALL: 1},
    "too_short": {ALL: 8},  # letters or digits of any script: a Hangul syllable counts like a Latin letter
    "too_long": {ALL: 100_000},  # words (Gopher); the longest statute here has 65,036
    # --- language
    "unsupported_language": {"other": 0},
    # --- gopher_quality
    # mean letters+digits per word. en: Gopher 3..10 (sotu 4.4..5.4, moby 3.9..4.9). ko: an eojeol is a stem plus
    # particles: court p0.5 2.81 p99.5 7.4, laws 2.41..4.44, petitions p0.5 2.70 p99.5 8.9; below 1.5 is single
    # syllables, above 10 is text without spacing, URLs or code
    "short_words": {"ko": 1.5, "en": 3},
    "long_words": {"ko": 10, "en": 10},
    # hashtags per word (Gopher's '#' ratio, counting '#tag' but not Markdown headings: laws use '#####' for
    # every article and would reach 0.35 counting every '#')
    "hashtags": {ALL: 0.1},
    "ellipses": {ALL: 0.1},  # '...' or '…' per word (Gopher); petitions p99.5 0.055
    "bullet_lines": {ALL: 0.9},  # lines starting with a bullet (Gopher); court up to 0.66 ('○' items), laws 0.49
    "ellipsis_lines": {ALL: 0.3},  # lines ending in an ellipsis (Gopher)
    # words containing a letter. en: Gopher 0.8 (sotu p0.5 0.94, one table-heavy address at 0.74). ko: FineWeb-2
    # has 0.791 for morphemes; legal eojeol are often bare numbers ('2017.', '①', '1\\.'): laws min 0.733, court p1
    # 0.81
    "alphabetic_words": {"ko": 0.65, "en": 0.8},
    # HTML tags (<p>, </div>, <!-- -->) per word (measures.MARKUP knows tag names, so '<nick>' in a chat log and
    # '<개정 2015.11.16>' in a statute are not tags): court max 0.008, laws 0.003, petitions 0.005, sotu and moby
    # none; raw HTML pages and HTML mail have one every few words
    "markup": {ALL: 0.02},
    # characters in "words" of 30+ characters without Hangul (links, base64 and hex blobs, hashes): sotu and moby
    # max 0.003, court 0.08, petitions p99.9 0.32 (petitions quoting long links), max 0.51
    "long_tokens": {ALL: 0.4},
    # links and e-mail addresses per word: sotu and moby none, court max 0.002, petitions p99.5 0.02, max 0.10
    "links": {ALL: 0.03},
    # en: share of words that are Gopher's 8 stop words (the be to of and that have with): sotu min 0.16, moby
    # 0.11, King James 0.05, prose runs 0.15-0.25; random letters and lorem ipsum have none.
    # ko: share of eojeol ending in a particle or verb ending (lexicon.KO_ENDING_SYLLABLES): court p1 0.44,
    # petitions p1 0.46, laws min 0.26; random syllables score 0.00-0.05
    "stop_words": {"ko": 0.2, "en": 0.02},
    # --- gopher_repetition
    # repeats of an earlier line / paragraph, as a share of lines / paragraphs and of characters. en: Gopher.
    # ko: FineWeb-2 0.374 for lines; court p99.5 0.21 (lines), 0.14 (paragraphs), laws max 0.27
    "duplicate_lines": {"ko": 0.374, "en": 0.3},
    "duplicate_paragraphs": {"ko": 0.3, "en": 0.3},
    "duplicate_line_chars": {"ko": 0.2, "en": 0.2},
    "duplicate_paragraph_chars": {"ko": 0.2, "en": 0.2},
    # characters in the most frequent repeated word 2/3/4-gram. en: Gopher (sotu max 0.033). ko: FineWeb-2
    # (court max 0.13/0.15/0.17, laws max 0.08/0.11/0.14)
    "top_2gram": {"ko": 0.282, "en": 0.20},
    "top_3gram": {"ko": 0.228, "en": 0.18},
    "top_4gram": {"ko": 0.185, "en": 0.16},
    # characters of words inside repeated word n-grams (n = 5..10). en: Gopher (sotu max 0.05 at n=5, moby 0.02).
    # ko: legal Korean repeats itself by design (citations, 'the plaintiff's claim' formulas): court p99 0.36 /
    # max 0.45 at n=5 and p99 0.30 / max 0.38 at n=10, laws p99 0.43 / 0.21. FineWeb-2's 0.20..0.13 would reject
    # one court decision in seven. A text pasted twice scores exactly 0.5 at every n, so the bounds stay below it.
    "duplicate_5grams": {"ko": 0.50, "en": 0.15},
    "duplicate_6grams": {"ko": 0.49, "en": 0.14},
    "duplicate_7grams": {"ko": 0.48, "en": 0.13},
    "duplicate_8grams": {"ko": 0.47, "en": 0.12},
    "duplicate_9grams": {"ko": 0.46, "en": 0.11},
    "duplicate_10grams": {"ko": 0.45, "en": 0.10},
    # --- line_rules (FineWeb)
    # lines ending a sentence. en: with punctuation, FineWeb 0.12. ko: with punctuation or a sentence-final syllable
    # (lexicon.KO_FINAL_SYLLABLES: older court decisions use no period at all), FineWeb-2's 0.062; laws min 0.078
    # counting punctuation only (article headings and numbered items end without one)
    "terminal_punctuation": {"ko": 0.062, "en": 0.12},
    "short_lines": {"en": 0.67},  # lines of at most 30 characters; FineWeb-2 has it off for Korean
    # characters in repeated lines. FineWeb's English 0.01 rejects every chunk of a play (speaker names repeat):
    # English uses FineWeb-2's 0.1 (moby max 0.009). Off for Korean, where Gopher's 0.2 above applies: a court
    # decision restates its headnotes word for word in its summary (court p99.5 0.093, max 0.34)
    "duplicate_line_chars_fineweb": {"en": 0.1},
    # newlines per word. en: FineWeb 0.3. ko: FineWeb-2 0.196 per morpheme is about 0.4 per eojeol;
    # laws max 0.49 (one article heading and its numbered items per few words), court p99 0.38
    "newlines_per_word": {"ko": 0.5, "en": 0.3},
    "curly_brackets": {"en": 0.02},  # C4 drops any page with '{' (code); here '{' or '}' per word
    # C4 drops lines about javascript, cookies, privacy policy, terms of use; mass mail adds unsubscribe, removal
    # and click-here lines (measures.POLICY). Here: such phrases per 100 words. sotu max 0.05 (a 6,000-word speech
    # says 'limited time' once), moby, laws and court none
    "boilerplate_phrases": {"en": 0.5},
    # --- filler
    # Hangul syllables outside KS X 1001's 2,350 everyday ones: court max 0.0007, petitions 0.011, reviews (NSMC,
    # slang) p99.9 0.05; uniformly random syllables 0.79
    "random_syllables": {"ko": 0.2},
    # eojeol starting with a syllable that only closes words (lexicon.KO_SUFFIX_ONLY_SYLLABLES): petitions p99.9
    # 0.020 (spacing mistakes), court 0.017; syllables drawn at random with real frequencies about 0.055
    "particle_first": {"ko": 0.02},
    "lorem_ipsum": {ALL: 0.3},  # words of the lorem ipsum vocabulary; sotu and moby: 'sit', 'do' and the like only
    # the most frequent word that is not a function word, as a share of the words: sotu max 0.013, moby 0.11
    # ('whale'), petitions p99.9 0.20, laws max 0.14 (a statute names its subject in every article)
    "keyword_stuffing": {ALL: 0.25},
    # the three most frequent content words together (stuffing rotates a few keywords, none alone above 0.25):
    # documents of 20+ words: petitions max 0.32 (p99.9 0.24), court 0.17, laws 0.17, sotu 0.02, moby 0.16;
    # stuffed text with three keywords p1 0.45; honest comments and reviews above 0.4: 15 of 14,500
    "keyword_stuffing_top3": {ALL: 0.4},
    # mean word-order score (word_order.py): real text is above 0, shuffled text below. en: sotu min 0.28, moby
    # 0.18, King James 0.54; English salad max -0.53 (-0.2 spares odd honest English: verse, lists).
    # ko scores each word against what follows it (next word, or the end of its line; word_order.word_scores), from
    # 20 words; the fewer the words, the noisier the mean, so the bar rises with length (four rules, measured with
    # bench/word_salad_eval.py on every Korean corpus, each text once, and on shuffled petitions, court decisions
    # and news comments, seven shufflers pooled). 50-99 words: petitions p0.5 0.09 / min -0.01, court min 0.35,
    # news comments p1 -0.05; shuffled p95 0.01, p99 0.17. Korean written mostly without spaces scores near 0.
    "word_salad": {"ko": 0.05, "en": -0.2},
    # 100+ words: petitions p0.5 0.16 / min 0.03 (100-199 words), 0.32 / 0.11 (200+), court p0.5 0.18 / min 0.10
    # (100-199), 0.34 / 0.18 (200+), laws min 0.40; shuffled p99 0.04 (100-199), -0.02 (200+), max 0.25 / 0.48
    "word_salad_long": {"ko": 0.1},
    # 20-29 words: news comments p0.5 -0.34 / p1 -0.22, KLUE sentences p0.5 -0.08, reviews p0.5 0.28, petitions
    # min 0.03; shuffled median -0.28, p95 0.33. At -0.2: 31 of 12,700 honest texts of that length (26 comments),
    # 68% of shuffled petitions
    "word_salad_short": {"ko": -0.2},
    # 30-49 words: news comments p0.5 -0.17 / p1 -0.09, petitions p0.5 -0.12 / p1 -0.06, KLUE and news min 0.02;
    # shuffled median -0.29, p95 0.13 (petitions), 0.16 (comments). At -0.1: 10 of 4,100 honest texts, 87% of
    # shuffled petitions
    "word_salad_medium": {"ko": -0.1},
    # --- spam
    # spam probability of English documents (spam.py, a linear classifier of words and word pairs; Korean is never
    # scored). The threshold is chosen by cross-validation on the training mail and prose, see spam.THRESHOLD
    "spam": {"en": spam.THRESHOLD},
}


@dataclass(frozen=True)
class Rule:
    """A document fails when its measure is below `min` thresholds or above `max` thresholds."""

    name: str
    group: str
    measure: str  # a column of measures.measure()
    bound: Literal["min", "max"]
    explain: str  # plain words for the contributor; {value} and {threshold} are filled in
    percent: bool = False  # show value and threshold as percentages
    min_words: int = 0  # judged only for documents with at least this many words
    min_lines: int = 0  # ... and at least this many lines

    @property
    def thresholds(self) -> dict[str, float | None]:
        return THRESHOLDS.get(self.name, {})

    @property
    def languages(self) -> list[str]:
        return [language for language, value in self.thresholds.items() if value is not None]


def _words(name, group, measure, bound, explain, **kw) -> Rule:
    return Rule(name, group, measure, bound, explain, min_words=kw.pop("min_words", STATS_MIN_WORDS), **kw)


RULES: list[Rule] = [
    # length
    Rule("empty", "length", "chars", "min", "the document is empty after normalization"),
    Rule("too_short", "length", "letters_digits", "min",
         "too short: {value} letters or digits (at least {threshold} are needed)"),
    Rule("too_long", "length", "words", "max",
         "too long: {value} words (at most {threshold}); split it into several documents"),
    # language
    Rule("unsupported_language", "language", "unsupported", "max",
         "not written in Korean or English (the platform accepts only these two)"),
    # gopher_quality
    _words("short_words", "gopher_quality", "mean_word_length", "min",
           "words are too short on average: {value} letters (at least {threshold})"),
    _words("long_words", "gopher_quality", "mean_word_length", "max",
           "words are too long on average: {value} characters (at most {threshold}); text without spaces, "
           "links or code are not prose"),
    _words("hashtags", "gopher_quality", "hashtag_ratio", "max", "too many hashtags: {value} per word (at most {threshold})"),
    _words("ellipses", "gopher_quality", "ellipsis_ratio", "max", "too many ellipses: {value} per word (at most {threshold})"),
    _words("bullet_lines", "gopher_quality", "bullet_line_frac", "max",
           "mostly bullet points: {value} of the lines start with a bullet (at most {threshold})", percent=True,
           min_lines=LINES_MIN),
    _words("ellipsis_lines", "gopher_quality", "ellipsis_line_frac", "max",
           "too many lines end in an ellipsis: {value} (at most {threshold})", percent=True, min_lines=LINES_MIN),
    _words("alphabetic_words", "gopher_quality", "alpha_word_frac", "min",
           "too many words without a letter (numbers, symbols): only {value} of the words have a letter "
           "(at least {threshold} needed)", percent=True),
    _words("markup", "gopher_quality", "markup_ratio", "max",
           "markup, not text: {value} HTML/XML tags per word (at most {threshold})", min_words=5),
    _words("long_tokens", "gopher_quality", "long_token_frac", "max",
           "{value} of the characters are in unbroken strings of 30+ characters (links, encoded data; at most "
           "{threshold})", percent=True, min_words=5),
    _words("links", "gopher_quality", "link_ratio", "max",
           "too many links or e-mail addresses: {value} per word (at most {threshold})", min_words=10),
    _words("stop_words", "gopher_quality", "stop_word_frac", "min",
           "does not read as sentences: only {value} of the words are common grammatical words or endings "
           "(at least {threshold} expected)", percent=True),
    # gopher_repetition
    _words("duplicate_lines", "gopher_repetition", "dup_line_frac", "max",
           "{value} of the lines repeat an earlier line (at most {threshold})", percent=True, min_lines=LINES_MIN,
           min_words=SHORT_STATS_MIN_WORDS),
    _words("duplicate_paragraphs", "gopher_repetition", "dup_para_frac", "max",
           "{value} of the paragraphs repeat an earlier paragraph (at most {threshold})", percent=True,
           min_words=SHORT_STATS_MIN_WORDS),
    _words("duplicate_line_chars", "gopher_repetition", "dup_line_char_frac", "max",
           "{value} of the text is repeated lines (at most {threshold})", percent=True, min_words=SHORT_STATS_MIN_WORDS),
    _words("duplicate_paragraph_chars", "gopher_repetition", "dup_para_char_frac", "max",
           "{value} of the text is repeated paragraphs (at most {threshold})", percent=True,
           min_words=SHORT_STATS_MIN_WORDS),
    *(
        _words(f"top_{n}gram", "gopher_repetition", f"top_{n}gram_char_frac", "max",
               f"one phrase of {n} words is repeated so often it makes up {{value}} of the text (at most {{threshold}})",
               percent=True)
        for n in (2, 3, 4)
    ),
    *(
        _words(f"duplicate_{n}grams", "gopher_repetition", f"dup_{n}gram_char_frac", "max",
               f"{{value}} of the text repeats passages of {n}+ words found earlier in it (at most {{threshold}})",
               percent=True)
        for n in range(5, 11)
    ),
    # line_rules
    _words("terminal_punctuation", "line_rules", "terminal_line_frac", "min",
           "only {value} of the lines end a sentence with punctuation (at least {threshold}): lists, menus or "
           "markup rather than prose", percent=True, min_lines=LINES_MIN),
    _words("short_lines", "line_rules", "short_line_frac", "max",
           "{value} of the lines are 30 characters or shorter (at most {threshold}): lists, menus or markup",
           percent=True, min_lines=LINES_MIN),
    _words("duplicate_line_chars_fineweb", "line_rules", "dup_line_char_frac", "max",
           "{value} of the text is lines repeated from elsewhere in it (at most {threshold})", percent=True,
           min_lines=LINES_MIN),
    _words("newlines_per_word", "line_rules", "newline_ratio", "max",
           "too many line breaks: {value} per word (at most {threshold}): lists or columns rather than prose"),
    _words("curly_brackets", "line_rules", "curly_bracket_ratio", "max",
           "looks like code: {value} curly brackets per word (at most {threshold})"),
    _words("boilerplate_phrases", "line_rules", "boilerplate_per_100_words", "max",
           "web or mailing boilerplate: {value} phrases such as 'privacy policy', 'unsubscribe' or 'click here' "
           "per 100 words (at most {threshold})"),
    # filler
    _words("random_syllables", "filler", "rare_hangul_frac", "max",
           "looks like random Hangul: {value} of the syllables are ones Korean text almost never uses "
           "(at most {threshold})", percent=True, min_words=10),
    _words("particle_first", "filler", "ko_suffix_start_frac", "max",
           "looks like random Hangul: {value} of the words begin with a particle or ending, which only closes a "
           "word (at most {threshold})", percent=True),
    _words("lorem_ipsum", "filler", "lorem_frac", "max",
           "placeholder text: {value} of the words are lorem ipsum (at most {threshold})", percent=True,
           min_words=10),
    _words("keyword_stuffing", "filler", "top_content_word_frac", "max",
           "one word is repeated to fill the document: it is {value} of the words (at most {threshold})",
           percent=True, min_words=20),
    _words("keyword_stuffing_top3", "filler", "top3_content_word_frac", "max",
           "a few words are repeated to fill the document: the three most frequent are {value} of the words "
           "(at most {threshold})", percent=True, min_words=20),
    _words("word_salad", "filler", "word_order_score", "min",
           "the words do not follow one another as in real sentences (word-order score {value}, at least "
           "{threshold}): shuffled or generated text"),
    _words("word_salad_long", "filler", "word_order_score", "min",
           "the words do not follow one another as in real sentences (word-order score {value}, at least "
           "{threshold} for a document of 100 words or more): shuffled or generated text", min_words=100),
    _words("word_salad_medium", "filler", "word_order_score", "min",
           "the words do not follow one another as in real sentences (word-order score {value}, at least "
           "{threshold} for a document of 30 words or more): shuffled or generated text", min_words=30),
    _words("word_salad_short", "filler", "word_order_score", "min",
           "the words do not follow one another as in real sentences (word-order score {value}, at least "
           "{threshold} for a document of 20 words or more): shuffled or generated text",
           min_words=ORDER_MIN_WORDS["ko"]),
    # spam
    _words("spam", "spam", "spam_probability", "max",
           "reads like commercial spam or a scam letter: the spam classifier gives it {value} (at most {threshold})",
           percent=True, min_words=spam.MIN_WORDS),
]


def _formatted(value: pl.Expr, percent: bool) -> pl.Expr:
    if percent:
        return pl.format("{}%", (value * 100).round(1))
    return pl.when(value == value.round(0)).then(value.cast(pl.Int64).cast(pl.String)).otherwise(
        value.round(3).cast(pl.String)
    )


def apply_rules(frame: pl.DataFrame, rules: list[Rule] = RULES) -> pl.DataFrame:
    """Adds `rejected_by` (rule name), `filter_group` (its group) and `reason` (plain words with the measured value
    and the threshold); all three are '' for a kept document. The first failing rule in `rules` order wins.

    `frame` needs `text` (normalized) and `language` (detect_language); without `language` it is detected here and
    added to the result."""
    if "language" not in frame.columns:
        frame = detect_language(frame)
    columns = ["rejected_by", "filter_group", "reason"]
    if frame.height == 0:
        return frame.with_columns([pl.lit("", pl.String).alias(c) for c in columns])
    active = [rule for rule in rules if rule.languages]
    m = measure(frame.select("text", "language")).with_columns(
        language=frame["language"],
        unsupported=pl.lit(1.0),
        stop_word_frac=pl.when(frame["language"] == "ko").then(pl.col("ko_ending_frac")).otherwise(
            pl.col("en_stop_word_frac")),
    )
    if any(rule.measure == "spam_probability" for rule in active):  # the classifier costs as much as a few rules
        m = m.with_columns(spam.spam_scores(frame))
    return frame.with_columns(_verdict(m, active))


def _thresholds(rule: Rule, languages: list[str], code: np.ndarray) -> np.ndarray:
    """The rule's threshold for each document's language, NaN where the rule does not apply: one per distinct
    language (`languages`, codes from 1; 0 for null, which gets the default), gathered by each document's `code`."""
    values = {k: v for k, v in rule.thresholds.items() if v is not None}
    default = values.pop(ALL, None)
    default = np.nan if default is None else float(default)
    return np.array([default, *(float(values.get(lang, default)) for lang in languages)])[code]


def _fails(m: pl.DataFrame, languages: list[str], code: np.ndarray, rule: Rule) -> np.ndarray:
    """Whether each document fails `rule` (False where the rule does not apply to it), in numpy on the measures."""
    value = m[rule.measure].cast(pl.Float64).to_numpy()
    value = np.where(np.isnan(value), np.inf, value)  # polars orders NaN above every number
    threshold = _thresholds(rule, languages, code)
    with np.errstate(invalid="ignore"):
        breaks = value < threshold if rule.bound == "min" else value > threshold
    applies = (m["words"].to_numpy() >= rule.min_words) & (m["lines"].to_numpy() >= rule.min_lines)
    return applies & breaks  # a NaN threshold breaks nothing


def _template(rule: Rule) -> tuple[list[str], list[int]]:
    """The rule's explanation as texts with slots between them (1: the value, 2: the threshold)."""
    parts = rule.explain.replace("{threshold}", "\x00T\x00").replace("{value}", "\x00V\x00").split("\x00")
    return parts[0::2], [1 if p == "V" else 2 for p in parts[1::2]]


def _reasons(rules: list[Rule], rule: np.ndarray, value: np.ndarray, threshold: np.ndarray, percent: bool) -> pl.Series:
    """Each rejected row's explanation, with its value and threshold filled in: one polars call for the rows of
    all `rules` (`rule`: index of each row's rule; all with the same `percent`) rather than one per rule."""
    texts, slots = zip(*(_template(r) for r in rules))
    k = max(len(s) for s in slots)
    texts = [[*t, *[""] * (k + 1 - len(t))] for t in texts]
    slots = np.array([[*s, *[0] * (k - len(s))] for s in slots], np.int8).reshape(len(rules), k)
    frame = pl.DataFrame({"value": value, "threshold": threshold,
                          **{f"t{j}": pl.Series([t[j] for t in texts], dtype=pl.String).gather(rule) for j in range(k + 1)},
                          **{f"s{j}": slots[rule, j] for j in range(k)}})
    filled = {1: _formatted(pl.col("value"), percent), 2: _formatted(pl.col("threshold"), percent)}
    pieces = [pl.col("t0")]
    for j in range(k):
        pieces += [pl.when(pl.col(f"s{j}") == 1).then(filled[1]).when(pl.col(f"s{j}") == 2).then(filled[2])
                   .otherwise(pl.lit("")), pl.col(f"t{j + 1}")]
    return frame.select(pl.concat_str(pieces)).to_series()


def _verdict(m: pl.DataFrame, rules: list[Rule]) -> pl.DataFrame:
    """`rejected_by`, `filter_group` and `reason` of every row of the measures `m`: the first rule each row fails.
    Reasons are formatted only for the rows a rule rejects (formatting every rule's reason for every document
    cost as much as a tenth of the measuring)."""
    n = m.height
    first = np.full(n, len(rules))  # index of the first failing rule; len(rules) for a kept document
    reason = pl.repeat("", n, dtype=pl.String, eager=True)
    if rules:
        languages = m["language"].drop_nulls().unique().to_list()
        code = m["language"].replace_strict(languages, range(1, len(languages) + 1), default=0,
                                            return_dtype=pl.Int64).to_numpy()
        fails = np.stack([_fails(m, languages, code, rule) for rule in rules], axis=1)
        first = np.where(fails.any(axis=1), fails.argmax(axis=1), len(rules))
        # the rejected rows' reasons, percentages and plain numbers apart, put in place by one gather ('' at 0)
        parts, where, done = [pl.Series([""], dtype=pl.String)], np.zeros(n, np.int64), 1
        for percent in (True, False):
            chosen = [i for i, rule in enumerate(rules) if rule.percent == percent]
            rows = np.flatnonzero(np.isin(first, chosen))
            if not len(rows):
                continue
            rows = rows[np.argsort(first[rows], kind="stable")]
            index = np.searchsorted(chosen, first[rows])
            value = np.concatenate([m[rules[i].measure].cast(pl.Float64).to_numpy()[rows[index == j]]
                                    for j, i in enumerate(chosen)])
            threshold = np.concatenate([_thresholds(rules[i], languages, code[rows[index == j]])
                                        for j, i in enumerate(chosen)])
            parts.append(_reasons([rules[i] for i in chosen], index, value, threshold, percent))
            where[rows] = np.arange(done, done + len(rows))
            done += len(rows)
        reason = pl.concat(parts, rechunk=True).gather(where)
    return pl.DataFrame({
        "rejected_by": pl.Series([rule.name for rule in rules] + [""], dtype=pl.String).gather(first),
        "filter_group": pl.Series([rule.group for rule in rules] + [""], dtype=pl.String).gather(first),
        "reason": reason,
    })


def measured(frame: pl.DataFrame) -> pl.DataFrame:
    """Every measure the rules look at, one row per document (for reports and tuning)."""
    if "language" not in frame.columns:
        frame = detect_language(frame)
    return measure(frame.select("text", "language")).with_columns(language=frame["language"])
