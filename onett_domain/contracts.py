"""Data contracts at the boundaries where bad data would cost money: the documents leaving preprocessing, the
consumer's revenue, the contribution ratios and the payouts. Each is a pandera schema over a polars frame; a
violation stops the step before anything is written, with a message naming the column and the rows."""

from __future__ import annotations

import polars as pl
import pandera.polars as pa

from onett_text.pii import PII_KINDS
from onett_text.quality import GROUPS


class ContractViolation(ValueError):
    """A frame broke its contract; the message names the contract, the column, the check and the rows."""


_HASH = r"^[0-9a-f]{32}$"
_COUNT = pa.Check.ge(0)

DOCUMENTS = pa.DataFrameSchema(
    {
        "contributor_id": pa.Column(pl.String, pa.Check.str_length(min_value=1)),
        "period": pa.Column(pl.Date),
        "file": pa.Column(pl.String),
        "position": pa.Column(pl.Int64, _COUNT),
        "doc_id": pa.Column(pl.String, nullable=True),
        "submitted_at": pa.Column(pl.Datetime("us", "UTC")),
        "text": pa.Column(pl.String),
        **{kind: pa.Column(pl.Int64, _COUNT) for kind in PII_KINDS},
        "raw_tokens": pa.Column(pl.Int64, _COUNT),
        "tokens": pa.Column(pl.Int64, _COUNT),
        "words": pa.Column(pl.Int64, _COUNT),
        "language": pa.Column(pl.String, pa.Check.isin(["ko", "en", "other"])),
        "rejected_by": pa.Column(pl.String),
        "filter_group": pa.Column(pl.String, pa.Check.isin(["", *GROUPS])),
        "reason": pa.Column(pl.String),
        "content_hash": pa.Column(pl.String, pa.Check.str_matches(_HASH)),
    },
    checks=[
        # a document is rejected by a rule of a group, with a reason, or kept with none of the three
        pa.Check(lambda data: data.lazyframe.select(
            (pl.col("rejected_by") == "") == (pl.col("filter_group") == "")), name="rule_has_group"),
        pa.Check(lambda data: data.lazyframe.select(
            (pl.col("rejected_by") == "") == (pl.col("reason") == "")), name="rejection_has_reason"),
    ],
    strict=True,
    name="documents leaving filtered",
)

REVENUE = pa.DataFrameSchema(
    {
        "date": pa.Column(pl.Date, unique=True),
        "requests": pa.Column(pl.Int64, _COUNT),
        "input_tokens": pa.Column(pl.Int64, _COUNT),
        "output_tokens": pa.Column(pl.Int64, _COUNT),
        "revenue": pa.Column(pl.Decimal(38, 10), _COUNT),
        "source_file": pa.Column(pl.String, pa.Check.str_length(min_value=1)),
    },
    strict=True,
    name="api_revenue",
)

_RATIO = [pa.Check.ge(0), pa.Check.le(1)]

CONTRIBUTION_RATIOS = pa.DataFrameSchema(
    {
        "period": pa.Column(pl.Date),
        "contributor_id": pa.Column(pl.String, pa.Check.str_length(min_value=1)),
        "tokens": pa.Column(pl.Int64, _COUNT),
        "ratio": pa.Column(pl.Decimal(19, 18), _RATIO),
    },
    unique=["period", "contributor_id"],
    strict=True,
    name="contribution_ratios",
)

PAYOUTS = pa.DataFrameSchema(
    {
        "period": pa.Column(pl.Date),
        "contributor_id": pa.Column(pl.String, pa.Check.str_length(min_value=1)),
        "tokens": pa.Column(pl.Int64, _COUNT),
        "ratio": pa.Column(pl.Decimal(19, 18), _RATIO),
        "amount": pa.Column(pl.Decimal(38, 3), _COUNT),
        "currency": pa.Column(pl.String, pa.Check.str_matches(r"^[A-Z]{3}$")),
        "adjustment": pa.Column(pl.Decimal(38, 3)),  # carried in from recomputed closed months: either sign
    },
    unique=["period", "contributor_id"],
    strict=True,
    name="payouts",
)

# Columns that name a row in a violation message, when the frame has them.
_ROW_KEYS = ("contributor_id", "period", "file", "position", "date")
_SHOWN = 5  # rows named per failing check


def validate(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` if it meets `schema`; otherwise ContractViolation naming every failing column and check, with rows."""
    try:
        return schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        raise ContractViolation(_message(schema.name, errors.failure_cases, frame)) from None
    except pa.errors.SchemaError as error:
        raise ContractViolation(f"{schema.name}: {error}") from None


def _message(name: str, failures: pl.DataFrame, frame: pl.DataFrame) -> str:
    keys = [k for k in _ROW_KEYS if k in frame.columns]
    lines = []
    for (column, check), group in failures.group_by(["column", "check"], maintain_order=True):
        if check == "column_in_dataframe":
            lines.append("missing column(s) " + ", ".join(repr(c) for c in group["failure_case"].to_list()))
            continue
        rows = [i for i in group["index"].to_list() if i is not None]
        where = "; ".join(_row(frame, i, keys) for i in rows[:_SHOWN])
        more = f" and {len(rows) - _SHOWN} more" if len(rows) > _SHOWN else ""
        if column in (None, name):  # a check on whole rows: the rows' keys say which, never their text
            subject, values = "rows fail", ""
        else:
            subject = f"column {column!r} fails"
            values = f" (values: {', '.join(map(str, group['failure_case'][:_SHOWN]))})"
        lines.append(f"{subject} {check} in {len(rows) or len(group)} row(s){values}"
                     + (f": {where}{more}" if where else ""))
    return f"{name}: " + lines[0] if len(lines) == 1 else f"{name}:\n- " + "\n- ".join(lines)


def _row(frame: pl.DataFrame, index: int, keys: list[str]) -> str:
    if not 0 <= index < frame.height:
        return f"row {index}"
    values = frame.row(index, named=True)
    return f"row {index} (" + ", ".join(f"{k} {values[k]}" for k in keys) + ")" if keys else f"row {index}"
