"""Quality rules: what a document must be to be paid for, each a named unit holding its measure, its thresholds
and the evidence for them.

Every token that passes these rules is paid, so they decide who is paid: honest Korean and English prose must pass
in full, junk and padding must earn nothing. `apply_rules` (verdicts.py) judges every document of a frame, and the
first rule a document fails (in `RULES` order) is recorded with its group and a reason in plain words that gives
the measured value and the threshold.

The rules follow Gopher (Rae et al. 2021) and FineWeb / FineWeb-2 (datatrove), with Korean thresholds measured on
whitespace words (eojeol) rather than FineWeb-2's morphemes, plus rules for machine filler. The groups (`GROUPS`)
become the stages of the contributor's token funnel, in this order:

    length -> language -> gopher_quality -> gopher_repetition -> line_rules -> filler -> spam

Statistics over a few words are noise, so a rule only judges documents of at least `STATS_MIN_WORDS` (50) words,
Gopher's own minimum, unless it says otherwise: the rules that stay reliable on little text (repeated lines,
markup, links, random syllables, lorem ipsum, a stuffed keyword) start at 5 to 20 words (`min_words`); Korean word
order is judged from 20 words with a bar that rises with length (word_salad_short, _medium, word_salad, _long).
Unlike Gopher, a document is never rejected for having fewer than 50 words: short honest texts are paid
(`too_short` asks for 8 letters or digits).

To tune or switch off a rule, edit its thresholds here (a language missing from them, or None, switches the rule
off for that language; ALL applies to every language). The distributions in each rule's `evidence` were measured
with `bench/filter_eval.py` on ../shared/corpora (documents of at least 50 words unless said otherwise): "court"
ko_court_precedents, "laws" ko_laws, "petitions" ko_petitions, "sotu" en_state_of_the_union, "moby" en_moby_dick;
pN is the N-th percentile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from onett_text.quality import characters as ch
from onett_text.quality import lines as ln
from onett_text.quality import patterns, repetition, spam, word_order
from onett_text.quality import words as wd
from onett_text.quality.measure import Measure
from onett_text.quality.words import SHORT_STATS_MIN_WORDS, STATS_MIN_WORDS

LINES_MIN = 3  # line-share rules need at least this many lines (a one-line text is all or nothing)
ALL = "*"  # a threshold for every language

GROUPS: dict[str, str] = {
    "length": "empty, too short and too long documents",
    "language": "documents in a language the platform does not pay for",
    "gopher_quality": "documents that do not read like prose (word lengths, symbols, bullet lists, stop words)",
    "gopher_repetition": "documents that repeat their own lines, paragraphs or phrases",
    "line_rules": "documents made of boilerplate lines (menus, code, policy notices)",
    "filler": "machine filler: random syllables, shuffled word salad, lorem ipsum, keyword stuffing",
    "spam": "commercial spam and scam letters in English",
}
"""The rule groups in funnel order, with what each removes (shown to contributors)."""


@dataclass(frozen=True, eq=False)
class Rule:
    """A document fails when its `measure` is below (`bound` "min") or above ("max") the threshold for its
    language ('ko', 'en' or 'other', as detected by language.detect_language; ALL for any language)."""

    name: str
    group: str  # one of GROUPS
    measure: Measure
    bound: Literal["min", "max"]
    thresholds: Mapping[str, float | None]
    explain: str  # plain words for the contributor; {value} and {threshold} are filled in
    evidence: str = ""  # why these thresholds: what honest text and junk measure
    percent: bool = False  # show value and threshold as percentages
    min_words: int = STATS_MIN_WORDS  # judged only for documents with at least this many words
    min_lines: int = 0  # ... and at least this many lines

    @property
    def languages(self) -> list[str]:
        return [language for language, value in self.thresholds.items() if value is not None]


_WORD_LENGTH = ("mean letters+digits per word. en: Gopher 3..10 (sotu 4.4..5.4, moby 3.9..4.9). ko: an eojeol is a "
                "stem plus particles: court p0.5 2.81 p99.5 7.4, laws 2.41..4.44, petitions p0.5 2.70 p99.5 8.9; below "
                "1.5 is single syllables, above 10 is text without spacing, URLs or code")
_DUPLICATES = ("repeats of an earlier line / paragraph, as a share of lines / paragraphs and of characters. en: "
               "Gopher. ko: FineWeb-2 0.374 for lines; court p99.5 0.21 (lines), 0.14 (paragraphs), laws max 0.27")
_TOP_NGRAMS = ("characters in the most frequent repeated word 2/3/4-gram. en: Gopher (sotu max 0.033). ko: FineWeb-2 "
               "(court max 0.13/0.15/0.17, laws max 0.08/0.11/0.14)")
_DUPLICATE_NGRAMS = (
    "characters of words inside repeated word n-grams (n = 5..10). en: Gopher (sotu max 0.05 at n=5, moby 0.02). ko: "
    "legal Korean repeats itself by design (citations, 'the plaintiff's claim' formulas): court p99 0.36 / max 0.45 at "
    "n=5 and p99 0.30 / max 0.38 at n=10, laws p99 0.43 / 0.21. FineWeb-2's 0.20..0.13 would reject one court "
    "decision in seven. A text pasted twice scores exactly 0.5 at every n, so the bounds stay below it")
_WORD_SALAD = (
    "mean word-order score (word_order.py): real text is above 0, shuffled text below. en: sotu min 0.28, moby 0.18, "
    "King James 0.54; English salad max -0.53 (-0.2 spares odd honest English: verse, lists). ko scores each word "
    "against what follows it (next word, or the end of its line; word_order.word_scores), from 20 words; the fewer "
    "the words, the noisier the mean, so the bar rises with length (four rules, measured with "
    "bench/word_salad_eval.py on every Korean corpus, each text once, and on shuffled petitions, court decisions and "
    "news comments, seven shufflers pooled). ")
_SALAD_REASON = ("the words do not follow one another as in real sentences (word-order score {value}, at least "
                 "{threshold}{length}): shuffled or generated text")

RULES: list[Rule] = [
    # --- length
    Rule("empty", "length", ch.chars, "min", {ALL: 1}, "the document is empty after normalization", min_words=0),
    Rule("too_short", "length", ch.letters_digits, "min", {ALL: 8},
         "too short: {value} letters or digits (at least {threshold} are needed)",
         "letters or digits of any script: a Hangul syllable counts like a Latin letter", min_words=0),
    Rule("too_long", "length", wd.words, "max", {ALL: 100_000},
         "too long: {value} words (at most {threshold}); split it into several documents",
         "words (Gopher); the longest statute here has 65,036", min_words=0),
    # --- language
    Rule("unsupported_language", "language", ch.unsupported, "max", {"other": 0},
         "not written in Korean or English (the platform accepts only these two)", min_words=0),
    # --- gopher_quality
    Rule("short_words", "gopher_quality", wd.mean_word_length, "min", {"ko": 1.5, "en": 3},
         "words are too short on average: {value} letters (at least {threshold})", _WORD_LENGTH),
    Rule("long_words", "gopher_quality", wd.mean_word_length, "max", {"ko": 10, "en": 10},
         "words are too long on average: {value} characters (at most {threshold}); text without spaces, "
         "links or code are not prose", _WORD_LENGTH),
    Rule("hashtags", "gopher_quality", wd.hashtag_ratio, "max", {ALL: 0.1},
         "too many hashtags: {value} per word (at most {threshold})",
         "hashtags per word (Gopher's '#' ratio, counting '#tag' but not Markdown headings: laws use '#####' for "
         "every article and would reach 0.35 counting every '#')"),
    Rule("ellipses", "gopher_quality", wd.ellipsis_ratio, "max", {ALL: 0.1},
         "too many ellipses: {value} per word (at most {threshold})",
         "'...' or '…' per word (Gopher); petitions p99.5 0.055"),
    Rule("bullet_lines", "gopher_quality", ln.bullet_line_frac, "max", {ALL: 0.9},
         "mostly bullet points: {value} of the lines start with a bullet (at most {threshold})",
         "lines starting with a bullet (Gopher); court up to 0.66 ('○' items), laws 0.49", percent=True,
         min_lines=LINES_MIN),
    Rule("ellipsis_lines", "gopher_quality", ln.ellipsis_line_frac, "max", {ALL: 0.3},
         "too many lines end in an ellipsis: {value} (at most {threshold})", "lines ending in an ellipsis (Gopher)",
         percent=True, min_lines=LINES_MIN),
    Rule("alphabetic_words", "gopher_quality", wd.alpha_word_frac, "min", {"ko": 0.65, "en": 0.8},
         "too many words without a letter (numbers, symbols): only {value} of the words have a letter "
         "(at least {threshold} needed)",
         "words containing a letter. en: Gopher 0.8 (sotu p0.5 0.94, one table-heavy address at 0.74). ko: FineWeb-2 "
         "has 0.791 for morphemes; legal eojeol are often bare numbers ('2017.', '①', '1\\.'): laws min 0.733, court "
         "p1 0.81", percent=True),
    Rule("markup", "gopher_quality", patterns.markup_ratio, "max", {ALL: 0.02},
         "markup, not text: {value} HTML/XML tags per word (at most {threshold})",
         "HTML tags (<p>, </div>, <!-- -->) per word (patterns.MARKUP knows tag names, so '<nick>' in a chat log and "
         "'<개정 2015.11.16>' in a statute are not tags): court max 0.008, laws 0.003, petitions 0.005, sotu and moby "
         "none; raw HTML pages and HTML mail have one every few words", min_words=5),
    Rule("long_tokens", "gopher_quality", wd.long_token_frac, "max", {ALL: 0.4},
         "{value} of the characters are in unbroken strings of 30+ characters (links, encoded data; at most "
         "{threshold})",
         "characters in \"words\" of 30+ characters without Hangul (links, base64 and hex blobs, hashes): sotu and "
         "moby max 0.003, court 0.08, petitions p99.9 0.32 (petitions quoting long links), max 0.51", percent=True,
         min_words=5),
    Rule("links", "gopher_quality", wd.link_ratio, "max", {ALL: 0.03},
         "too many links or e-mail addresses: {value} per word (at most {threshold})",
         "links and e-mail addresses per word: sotu and moby none, court max 0.002, petitions p99.5 0.02, max 0.10",
         min_words=10),
    Rule("stop_words", "gopher_quality", wd.stop_word_frac, "min", {"ko": 0.2, "en": 0.02},
         "does not read as sentences: only {value} of the words are common grammatical words or endings "
         "(at least {threshold} expected)",
         "en: share of words that are Gopher's 8 stop words (the be to of and that have with): sotu min 0.16, moby "
         "0.11, King James 0.05, prose runs 0.15-0.25; random letters and lorem ipsum have none. ko: share of eojeol "
         "ending in a particle or verb ending (lexicon.KO_ENDING_SYLLABLES): court p1 0.44, petitions p1 0.46, laws "
         "min 0.26; random syllables score 0.00-0.05", percent=True),
    # --- gopher_repetition
    Rule("duplicate_lines", "gopher_repetition", repetition.dup_line_frac, "max", {"ko": 0.374, "en": 0.3},
         "{value} of the lines repeat an earlier line (at most {threshold})", _DUPLICATES, percent=True,
         min_words=SHORT_STATS_MIN_WORDS, min_lines=LINES_MIN),
    Rule("duplicate_paragraphs", "gopher_repetition", repetition.dup_para_frac, "max", {"ko": 0.3, "en": 0.3},
         "{value} of the paragraphs repeat an earlier paragraph (at most {threshold})", _DUPLICATES, percent=True,
         min_words=SHORT_STATS_MIN_WORDS),
    Rule("duplicate_line_chars", "gopher_repetition", repetition.dup_line_char_frac, "max", {"ko": 0.2, "en": 0.2},
         "{value} of the text is repeated lines (at most {threshold})", _DUPLICATES, percent=True,
         min_words=SHORT_STATS_MIN_WORDS),
    Rule("duplicate_paragraph_chars", "gopher_repetition", repetition.dup_para_char_frac, "max",
         {"ko": 0.2, "en": 0.2}, "{value} of the text is repeated paragraphs (at most {threshold})", _DUPLICATES,
         percent=True, min_words=SHORT_STATS_MIN_WORDS),
    *(
        Rule(f"top_{n}gram", "gopher_repetition", repetition.TOP_NGRAM[n], "max", {"ko": ko, "en": en},
             f"one phrase of {n} words is repeated so often it makes up {{value}} of the text (at most {{threshold}})",
             _TOP_NGRAMS, percent=True)
        for n, ko, en in ((2, 0.282, 0.20), (3, 0.228, 0.18), (4, 0.185, 0.16))
    ),
    *(
        Rule(f"duplicate_{n}grams", "gopher_repetition", repetition.DUP_NGRAM[n], "max", {"ko": ko, "en": en},
             f"{{value}} of the text repeats passages of {n}+ words found earlier in it (at most {{threshold}})",
             _DUPLICATE_NGRAMS, percent=True)
        for n, ko, en in ((5, 0.50, 0.15), (6, 0.49, 0.14), (7, 0.48, 0.13), (8, 0.47, 0.12), (9, 0.46, 0.11),
                          (10, 0.45, 0.10))
    ),
    # --- line_rules (FineWeb)
    Rule("terminal_punctuation", "line_rules", ln.terminal_line_frac, "min", {"ko": 0.062, "en": 0.12},
         "only {value} of the lines end a sentence with punctuation (at least {threshold}): lists, menus or "
         "markup rather than prose",
         "lines ending a sentence. en: with punctuation, FineWeb 0.12. ko: with punctuation or a sentence-final "
         "syllable (lexicon.KO_FINAL_SYLLABLES: older court decisions use no period at all), FineWeb-2's 0.062; laws "
         "min 0.078 counting punctuation only (article headings and numbered items end without one)", percent=True,
         min_lines=LINES_MIN),
    Rule("short_lines", "line_rules", ln.short_line_frac, "max", {"en": 0.67},
         "{value} of the lines are 30 characters or shorter (at most {threshold}): lists, menus or markup",
         "lines of at most 30 characters; FineWeb-2 has it off for Korean", percent=True, min_lines=LINES_MIN),
    Rule("duplicate_line_chars_fineweb", "line_rules", repetition.dup_line_char_frac, "max", {"en": 0.1},
         "{value} of the text is lines repeated from elsewhere in it (at most {threshold})",
         "characters in repeated lines. FineWeb's English 0.01 rejects every chunk of a play (speaker names repeat): "
         "English uses FineWeb-2's 0.1 (moby max 0.009). Off for Korean, where Gopher's 0.2 of duplicate_line_chars "
         "applies: a court decision restates its headnotes word for word in its summary (court p99.5 0.093, max "
         "0.34)", percent=True, min_lines=LINES_MIN),
    Rule("newlines_per_word", "line_rules", ln.newline_ratio, "max", {"ko": 0.5, "en": 0.3},
         "too many line breaks: {value} per word (at most {threshold}): lists or columns rather than prose",
         "newlines per word. en: FineWeb 0.3. ko: FineWeb-2 0.196 per morpheme is about 0.4 per eojeol; laws max "
         "0.49 (one article heading and its numbered items per few words), court p99 0.38"),
    Rule("curly_brackets", "line_rules", wd.curly_bracket_ratio, "max", {"en": 0.02},
         "looks like code: {value} curly brackets per word (at most {threshold})",
         "C4 drops any page with '{' (code); here '{' or '}' per word"),
    Rule("boilerplate_phrases", "line_rules", patterns.boilerplate_per_100_words, "max", {"en": 0.5},
         "web or mailing boilerplate: {value} phrases such as 'privacy policy', 'unsubscribe' or 'click here' "
         "per 100 words (at most {threshold})",
         "C4 drops lines about javascript, cookies, privacy policy, terms of use; mass mail adds unsubscribe, "
         "removal and click-here lines (patterns.POLICY). Here: such phrases per 100 words. sotu max 0.05 (a "
         "6,000-word speech says 'limited time' once), moby, laws and court none"),
    # --- filler
    Rule("random_syllables", "filler", ch.rare_hangul_frac, "max", {"ko": 0.2},
         "looks like random Hangul: {value} of the syllables are ones Korean text almost never uses "
         "(at most {threshold})",
         "Hangul syllables outside KS X 1001's 2,350 everyday ones: court max 0.0007, petitions 0.011, reviews "
         "(NSMC, slang) p99.9 0.05; uniformly random syllables 0.79", percent=True, min_words=10),
    Rule("particle_first", "filler", wd.ko_suffix_start_frac, "max", {"ko": 0.02},
         "looks like random Hangul: {value} of the words begin with a particle or ending, which only closes a "
         "word (at most {threshold})",
         "eojeol starting with a syllable that only closes words (lexicon.KO_SUFFIX_ONLY_SYLLABLES): petitions "
         "p99.9 0.020 (spacing mistakes), court 0.017; syllables drawn at random with real frequencies about 0.055",
         percent=True),
    Rule("lorem_ipsum", "filler", wd.lorem_frac, "max", {ALL: 0.3},
         "placeholder text: {value} of the words are lorem ipsum (at most {threshold})",
         "words of the lorem ipsum vocabulary; sotu and moby: 'sit', 'do' and the like only", percent=True,
         min_words=10),
    Rule("keyword_stuffing", "filler", repetition.top_content_word_frac, "max", {ALL: 0.25},
         "one word is repeated to fill the document: it is {value} of the words (at most {threshold})",
         "the most frequent word that is not a function word, as a share of the words: sotu max 0.013, moby 0.11 "
         "('whale'), petitions p99.9 0.20, laws max 0.14 (a statute names its subject in every article)",
         percent=True, min_words=20),
    Rule("keyword_stuffing_top3", "filler", repetition.top3_content_word_frac, "max", {ALL: 0.4},
         "a few words are repeated to fill the document: the three most frequent are {value} of the words "
         "(at most {threshold})",
         "the three most frequent content words together (stuffing rotates a few keywords, none alone above 0.25): "
         "documents of 20+ words: petitions max 0.32 (p99.9 0.24), court 0.17, laws 0.17, sotu 0.02, moby 0.16; "
         "stuffed text with three keywords p1 0.45; honest comments and reviews above 0.4: 15 of 14,500",
         percent=True, min_words=20),
    Rule("word_salad", "filler", word_order.word_order_score, "min", {"ko": 0.05, "en": -0.2},
         _SALAD_REASON.replace("{length}", ""),
         _WORD_SALAD + "50-99 words: petitions p0.5 0.09 / min -0.01, court min 0.35, news comments p1 -0.05; "
         "shuffled p95 0.01, p99 0.17. Korean written mostly without spaces scores near 0"),
    Rule("word_salad_long", "filler", word_order.word_order_score, "min", {"ko": 0.1},
         _SALAD_REASON.replace("{length}", " for a document of 100 words or more"),
         _WORD_SALAD + "100+ words: petitions p0.5 0.16 / min 0.03 (100-199 words), 0.32 / 0.11 (200+), court p0.5 "
         "0.18 / min 0.10 (100-199), 0.34 / 0.18 (200+), laws min 0.40; shuffled p99 0.04 (100-199), -0.02 (200+), "
         "max 0.25 / 0.48", min_words=100),
    Rule("word_salad_medium", "filler", word_order.word_order_score, "min", {"ko": -0.1},
         _SALAD_REASON.replace("{length}", " for a document of 30 words or more"),
         _WORD_SALAD + "30-49 words: news comments p0.5 -0.17 / p1 -0.09, petitions p0.5 -0.12 / p1 -0.06, KLUE and "
         "news min 0.02; shuffled median -0.29, p95 0.13 (petitions), 0.16 (comments). At -0.1: 10 of 4,100 honest "
         "texts, 87% of shuffled petitions", min_words=30),
    Rule("word_salad_short", "filler", word_order.word_order_score, "min", {"ko": -0.2},
         _SALAD_REASON.replace("{length}", " for a document of 20 words or more"),
         _WORD_SALAD + "20-29 words: news comments p0.5 -0.34 / p1 -0.22, KLUE sentences p0.5 -0.08, reviews p0.5 "
         "0.28, petitions min 0.03; shuffled median -0.28, p95 0.33. At -0.2: 31 of 12,700 honest texts of that "
         "length (26 comments), 68% of shuffled petitions", min_words=word_order.ORDER_MIN_WORDS["ko"]),
    # --- spam
    Rule("spam", "spam", spam.probability, "max", {"en": spam.THRESHOLD},
         "reads like commercial spam or a scam letter: the spam classifier gives it {value} (at most {threshold})",
         "spam probability of English documents (spam.py, a linear classifier of words and word pairs; Korean is "
         "never scored). The threshold is chosen by cross-validation on the training mail and prose, see "
         "spam.THRESHOLD", percent=True, min_words=spam.MIN_WORDS),
]

THRESHOLDS: Mapping[str, Mapping[str, float | None]] = MappingProxyType({rule.name: rule.thresholds for rule in RULES})
"""{rule name: {language: threshold}}, read from RULES (read-only: to change a threshold, change the rule)."""
