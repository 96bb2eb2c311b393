"""Which agreement an upload needs, what its terms are, and when it waits."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from onett_domain.terms import Acceptance, Agreement, Terms, TermsError, decide_terms, parse_sidecar

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
V1, V2 = Agreement("1", T0, "a" * 64), Agreement("2", T0 + timedelta(days=10), "b" * 64)


def accepted(version: str, **defaults) -> Acceptance:
    return Acceptance("alice", version, T0 + timedelta(days=1), "alice", **defaults)


def test_an_upload_needs_the_agreement_current_when_it_was_submitted():
    before_any = decide_terms([V1, V2], [], T0 - timedelta(days=1), None)
    assert before_any.terms == Terms() and not before_any.needs_agreement  # from before agreements: none needed
    waiting = decide_terms([V1], [], T0 + timedelta(days=1), None)
    assert waiting.terms is None and "accept agreement version 1" in waiting.waiting
    ok = decide_terms([V1], [accepted("1", usage="pretraining-and-finetuning", evaluation_allowed=True)],
                      T0 + timedelta(days=2), None)
    assert ok.terms == Terms("pretraining-and-finetuning", True, None, "1", "agreement defaults")


def test_a_new_version_asks_again_for_later_uploads_only():
    acceptances = [accepted("1")]
    earlier = decide_terms([V1, V2], acceptances, T0 + timedelta(days=5), None)
    later = decide_terms([V1, V2], acceptances, T0 + timedelta(days=11), None)
    assert earlier.terms is not None and earlier.terms.agreement_version == "1"
    assert later.terms is None and "version 2" in later.waiting
    # accepting the newer version covers uploads that needed the older one
    both = decide_terms([V1, V2], [accepted("2")], T0 + timedelta(days=5), None)
    assert both.terms is not None and both.terms.agreement_version == "2"


def test_a_sidecar_overrides_the_defaults_and_a_bad_one_makes_the_file_wait():
    sidecar = ("a.jsonl.terms.json", json.dumps({"usage": "pretraining-and-finetuning", "expires": "2027-03-31",
                                                  "evaluation_allowed": True, "rights_attested": True}))
    decided = decide_terms([V1], [accepted("1")], T0 + timedelta(days=2), sidecar)
    assert decided.terms == Terms("pretraining-and-finetuning", True, date(2027, 3, 31), "1", "sidecar")
    assert decided.terms.expires_at(ZoneInfo("Asia/Seoul")) == datetime(2027, 4, 1, tzinfo=ZoneInfo("Asia/Seoul"))
    for text, message in [("{", "not valid JSON"), ('{"usage": "pretraining-only"}', "rights_attested"),
                          ('{"usage": "anything", "rights_attested": true}', "unknown usage 'anything'"),
                          ('{"rights_attested": true, "redistribution": "allowed"}', "redistribution"),
                          ('{"rights_attested": true, "expires": "next year"}', "expires must be a date"),
                          ('{"rights_attested": true, "licence": "cc-by"}', r"unknown field\(s\) licence")]:
        with pytest.raises(TermsError, match=message):
            parse_sidecar(text, "x.terms.json")
        waiting = decide_terms([V1], [accepted("1")], T0 + timedelta(days=2), ("x.terms.json", text))
        assert waiting.terms is None and waiting.waiting.startswith("terms: x.terms.json")
