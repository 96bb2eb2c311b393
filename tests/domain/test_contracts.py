"""Data contracts: what would cost money if it got through is refused with the column and the rows named."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import polars as pl
import pytest

from onett_domain.contracts import CONTRIBUTION_RATIOS, DOCUMENTS, PAYOUTS, REVENUE, ContractViolation, validate
from onett_domain.payouts import PAYOUT_COLUMNS, RATIO_COLUMNS
from onett_text.pii import PII_KINDS

OCTOBER = date(2026, 10, 1)


def ratios(rows: list[list]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=RATIO_COLUMNS, orient="row")


def payouts(rows: list[list]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=PAYOUT_COLUMNS, orient="row")


def test_ratios_in_range_one_row_per_contributor_and_month():
    good = ratios([[OCTOBER, "alice", 300, Decimal("0.75")], [OCTOBER, "bob", 100, Decimal("0.25")]])
    assert validate(CONTRIBUTION_RATIOS, good).equals(good)
    with pytest.raises(ContractViolation) as error:
        validate(CONTRIBUTION_RATIOS, ratios([[OCTOBER, "alice", 300, Decimal("1.5")],
                                              [OCTOBER, "bob", -1, Decimal("0.25")]]))
    message = str(error.value)
    assert "contribution_ratios" in message
    assert "'ratio'" in message and "alice" in message and "1.5" in message
    assert "'tokens'" in message and "bob" in message
    with pytest.raises(ContractViolation, match="(?s)uniqueness.*alice"):
        validate(CONTRIBUTION_RATIOS, ratios([[OCTOBER, "alice", 1, Decimal("0.5")],
                                              [OCTOBER, "alice", 1, Decimal("0.5")]]))


def test_payouts_never_negative_and_adjustments_either_sign():
    row = [OCTOBER, "alice", 300, Decimal("1"), Decimal("1520532"), "KRW", Decimal("-12")]
    validate(PAYOUTS, payouts([row]))  # a negative adjustment carried in is fine
    with pytest.raises(ContractViolation, match="(?s)'amount'.*alice"):
        validate(PAYOUTS, payouts([[*row[:4], Decimal("-0.001"), *row[5:]]]))
    with pytest.raises(ContractViolation, match="'currency'"):
        validate(PAYOUTS, payouts([[*row[:5], "won", row[6]]]))


def test_revenue_days_unique_and_not_negative():
    schema = {"date": pl.Date, "requests": pl.Int64, "input_tokens": pl.Int64, "output_tokens": pl.Int64,
              "revenue": pl.Decimal(38, 10), "source_file": pl.String}
    day = [date(2026, 10, 1), 10, 100, 50, Decimal("1000.5"), "usage.csv"]
    validate(REVENUE, pl.DataFrame([day], schema=schema, orient="row"))
    with pytest.raises(ContractViolation, match="(?s)'date'.*2026-10-01"):
        validate(REVENUE, pl.DataFrame([day, day], schema=schema, orient="row"))
    with pytest.raises(ContractViolation, match="'revenue'"):
        validate(REVENUE, pl.DataFrame([[*day[:4], Decimal("-1"), day[5]]], schema=schema, orient="row"))


def documents(**change) -> pl.DataFrame:
    row = {"contributor_id": "alice", "period": OCTOBER, "file": "a.jsonl", "position": 3, "doc_id": None,
           "submitted_at": datetime(2026, 10, 2, tzinfo=timezone.utc), "text": "본문", **{k: 0 for k in PII_KINDS},
           "raw_tokens": 5, "tokens": 4, "words": 3, "language": "ko", "rejected_by": "", "filter_group": "", "reason": "",
           "content_hash": "0123456789abcdef0123456789abcdef"}
    row.update(change)
    schema = {"contributor_id": pl.String, "period": pl.Date, "file": pl.String, "position": pl.Int64,
              "doc_id": pl.String, "submitted_at": pl.Datetime("us", "UTC"), "text": pl.String,
              **{k: pl.Int64 for k in PII_KINDS}, "raw_tokens": pl.Int64, "tokens": pl.Int64, "words": pl.Int64, "language": pl.String,
              "rejected_by": pl.String, "filter_group": pl.String, "reason": pl.String, "content_hash": pl.String}
    return pl.DataFrame([row], schema=schema)


def test_documents_leaving_preprocessing():
    validate(DOCUMENTS, documents())
    validate(DOCUMENTS, documents(rejected_by="too_short", filter_group="length", reason="too short"))
    for change, column in [({"tokens": -1}, "tokens"), ({"words": -1}, "words"), ({"language": "fr"}, "language"),
                           ({"content_hash": "xyz"}, "content_hash"), ({"filter_group": "made_up", "rejected_by": "x",
                                                                        "reason": "x"}, "filter_group")]:
        with pytest.raises(ContractViolation, match=f"(?s)'{column}'.*a.jsonl"):
            validate(DOCUMENTS, documents(**change))
    with pytest.raises(ContractViolation, match="rejection_has_reason"):
        validate(DOCUMENTS, documents(rejected_by="too_short", filter_group="length"))
    with pytest.raises(ContractViolation, match="column"):
        validate(DOCUMENTS, documents().drop("tokens"))
