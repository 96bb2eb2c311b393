"""Quality rules: which documents are paid for, and why the others are not.

    rules.py       every rule (name, group, measure, thresholds, evidence) in funnel order, and GROUPS
    verdicts.py    apply_rules (the first failing rule, with a reason) and measured (the table of measures)
    measure.py     what a measure is; computes the measures asked for over a whole frame
    characters.py, words.py, lines.py, repetition.py, word_order.py, spam.py, patterns.py
                   the measures, grouped by what they measure (word_order and spam with their models)
"""

from onett_text.quality.rules import ALL, GROUPS, RULES, THRESHOLDS, Rule
from onett_text.quality.verdicts import MEASURED, apply_rules, measured

__all__ = ["ALL", "GROUPS", "MEASURED", "RULES", "THRESHOLDS", "Rule", "apply_rules", "measured"]
