"""The shape of the rule list: groups in funnel order, thresholds read from the rules, measures held as objects."""

from __future__ import annotations

import pytest

from onett_text.quality import GROUPS, MEASURED, RULES, THRESHOLDS
from onett_text.quality.measure import Measure


def test_rules_run_in_the_order_of_their_groups():
    assert list(dict.fromkeys(rule.group for rule in RULES)) == list(GROUPS)
    assert all(description for description in GROUPS.values())


def test_thresholds_are_read_from_the_rules():
    assert list(THRESHOLDS) == [rule.name for rule in RULES]
    assert all(THRESHOLDS[rule.name] is rule.thresholds for rule in RULES)
    with pytest.raises(TypeError):
        THRESHOLDS["spam"] = {"en": 1.0}  # read-only: a threshold is changed in its rule


def test_rules_hold_their_measures():
    assert all(isinstance(rule.measure, Measure) for rule in RULES)
    names = [m.name for m in MEASURED]
    assert len(names) == len(set(names))
