"""The rules applied to a frame: each document's first failing rule, its group and a reason in plain words; and
the table of measures behind those verdicts, for reports and tuning."""

from __future__ import annotations

import numpy as np
import polars as pl

from onett_text.language import detect_language
from onett_text.quality import characters as ch
from onett_text.quality import lines as ln
from onett_text.quality import patterns, repetition, word_order
from onett_text.quality import words as wd
from onett_text.quality.measure import Measure, compute
from onett_text.quality.rules import ALL, RULES, Rule

MEASURED: list[Measure] = [
    ch.chars, ch.letters, ch.letters_digits, ch.hangul, ch.hangul_syllables, ch.rare_hangul, ch.latin, ch.han,
    ch.newlines, ch.curly, ch.hashtags, ch.ellipses,
    wd.words, wd.alpha_words, wd.long_token_chars, wd.links, wd.en_stop_words, wd.ko_endings, wd.ko_suffix_first,
    wd.lorem_words,
    repetition.top_content_word, repetition.top3_content_words, *repetition.TOP_NGRAM.values(),
    *repetition.DUP_NGRAM.values(),
    word_order.word_pairs, word_order.word_order_score,
    ln.lines, ln.bullet_lines, ln.terminal_lines, ln.terminal_lines_ko, ln.ellipsis_lines, ln.short_lines,
    ln.paragraphs,
    repetition.dup_lines, repetition.dup_line_chars, repetition.dup_paras, repetition.dup_para_chars,
    patterns.markup_tags, patterns.boilerplate_phrases,
    wd.mean_word_length, wd.alpha_word_frac, wd.hashtag_ratio, wd.ellipsis_ratio, ln.bullet_line_frac,
    ln.ellipsis_line_frac, wd.en_stop_word_frac, wd.ko_ending_frac, wd.ko_suffix_start_frac, wd.lorem_frac,
    repetition.top_content_word_frac, repetition.top3_content_word_frac, repetition.dup_line_frac,
    repetition.dup_line_char_frac, repetition.dup_para_frac, repetition.dup_para_char_frac, ln.terminal_line_frac,
    ln.short_line_frac, ln.newline_ratio, ch.rare_hangul_frac, wd.curly_bracket_ratio,
    patterns.boilerplate_per_100_words, patterns.markup_ratio, wd.link_ratio, wd.long_token_frac,
]
"""The columns of `measured`, in order: the counts, then the ratios the rules compare. (The spam probability is
left out: the classifier is only run for the rule `spam`.)"""


def measured(frame: pl.DataFrame, measures: list[Measure] = MEASURED) -> pl.DataFrame:
    """`measures` (every measure the rules look at, by default), one row per document, and `language`."""
    if "language" not in frame.columns:
        frame = detect_language(frame)
    return compute(frame.select("text", "language"), measures).with_columns(language=frame["language"])


def apply_rules(frame: pl.DataFrame, rules: list[Rule] = RULES) -> pl.DataFrame:
    """Adds `rejected_by` (rule name), `filter_group` (its group) and `reason` (plain words with the measured value
    and the threshold); all three are '' for a kept document. The first failing rule in `rules` order wins.

    `frame` needs `text` (normalized) and `language` (detect_language); without `language` it is detected here and
    added to the result. Only the measures of the rules that apply to some language are computed."""
    if "language" not in frame.columns:
        frame = detect_language(frame)
    columns = ["rejected_by", "filter_group", "reason"]
    if frame.height == 0:
        return frame.with_columns([pl.lit("", pl.String).alias(c) for c in columns])
    active = [rule for rule in rules if rule.languages]
    needed = list(dict.fromkeys([wd.words, ln.lines, *(rule.measure for rule in active)]))
    m = compute(frame.select("text", "language"), needed).with_columns(language=frame["language"])
    return frame.with_columns(_verdict(m, active))


def _formatted(value: pl.Expr, percent: bool) -> pl.Expr:
    if percent:
        return pl.format("{}%", (value * 100).round(1))
    return pl.when(value == value.round(0)).then(value.cast(pl.Int64).cast(pl.String)).otherwise(
        value.round(3).cast(pl.String)
    )


def _thresholds(rule: Rule, languages: list[str], code: np.ndarray) -> np.ndarray:
    """The rule's threshold for each document's language, NaN where the rule does not apply: one per distinct
    language (`languages`, codes from 1; 0 for null, which gets the default), gathered by each document's `code`."""
    values = {k: v for k, v in rule.thresholds.items() if v is not None}
    default = values.pop(ALL, None)
    default = np.nan if default is None else float(default)
    return np.array([default, *(float(values.get(lang, default)) for lang in languages)])[code]


def _fails(m: pl.DataFrame, languages: list[str], code: np.ndarray, rule: Rule) -> np.ndarray:
    """Whether each document fails `rule` (False where the rule does not apply to it), in numpy on the measures."""
    value = m[rule.measure.name].cast(pl.Float64).to_numpy()
    value = np.where(np.isnan(value), np.inf, value)  # polars orders NaN above every number
    threshold = _thresholds(rule, languages, code)
    with np.errstate(invalid="ignore"):
        breaks = value < threshold if rule.bound == "min" else value > threshold
    applies = (m[wd.words.name].to_numpy() >= rule.min_words) & (m[ln.lines.name].to_numpy() >= rule.min_lines)
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
    would cost a noticeable part of the measuring)."""
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
            value = np.concatenate([m[rules[i].measure.name].cast(pl.Float64).to_numpy()[rows[index == j]]
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
