"""Quality rules. Each rule is a named unit: what it measures, its threshold, and the reason it gives.

The filtered stage applies them in order; the first rule a document fails is recorded as its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import polars as pl


@dataclass(frozen=True)
class Rule:
    name: str
    measure: pl.Expr  # over the normalized `text` column
    passes: Callable[[pl.Expr], pl.Expr]  # value -> bool
    explain: str  # plain words for the contributor, formatted with {value}


MIN_LETTERS = 8

RULES: list[Rule] = [
    Rule(
        name="empty",
        measure=pl.col("text").str.len_chars(),
        passes=lambda v: v > 0,
        explain="the document is empty after normalization",
    ),
    Rule(
        name="too_short",
        # Letters and digits of any script: Hangul syllables count like Latin letters.
        measure=pl.col("text").str.count_matches(r"[\p{L}\p{N}]"),
        passes=lambda v: v >= MIN_LETTERS,
        explain=f"too short: {{value}} letters or digits (at least {MIN_LETTERS} are needed)",
    ),
]


def apply_rules(frame: pl.DataFrame, rules: list[Rule] = RULES) -> pl.DataFrame:
    """Adds `rejected_by` and `reason` (empty strings for documents that pass every rule)."""
    if frame.height == 0:
        return frame.with_columns(rejected_by=pl.lit("", pl.String), reason=pl.lit("", pl.String))
    measured = frame.with_columns(
        [r.measure.alias(f"_m{i}") for i, r in enumerate(rules)]
    )
    rejected_by = pl.lit("", pl.String)
    reason = pl.lit("", pl.String)
    for i, rule in reversed(list(enumerate(rules))):  # built inside out, so the first failing rule wins
        value = pl.col(f"_m{i}")
        failed = ~rule.passes(value)
        parts = rule.explain.split("{value}")
        text = pl.concat_str([pl.lit(parts[0]), value.cast(pl.String), pl.lit(parts[1])]) if len(parts) == 2 else pl.lit(parts[0])
        rejected_by = pl.when(failed).then(pl.lit(rule.name)).otherwise(rejected_by)
        reason = pl.when(failed).then(text).otherwise(reason)
    return measured.with_columns(rejected_by=rejected_by, reason=reason).drop(
        [f"_m{i}" for i in range(len(rules))]
    )
