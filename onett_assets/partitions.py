"""Partitions: contributor (dynamic, added by the landing-zone sensor) x payout month."""

from __future__ import annotations

import warnings
from datetime import date

from dagster import BetaWarning, PreviewWarning
from dagster import DynamicPartitionsDefinition, MonthlyPartitionsDefinition, MultiPartitionKey, MultiPartitionsDefinition

from onett_resources.settings import load_settings

# MultiToSingleDimensionPartitionMapping and pools are marked beta/preview; they are what Dagster documents.
warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)

_settings = load_settings()

contributor_partitions = DynamicPartitionsDefinition(name="contributors")

# end_offset=1: the month in progress exists too, so uploads and revenue are processed as they arrive.
period_partitions = MonthlyPartitionsDefinition(
    start_date=_settings.first_period.isoformat(),
    timezone=_settings.timezone,
    end_offset=1,
    fmt="%Y-%m-%d",
)

submission_partitions = MultiPartitionsDefinition(
    {"contributor": contributor_partitions, "period": period_partitions}
)

# Dagster joins multi-partition keys with "|"; a contributor id must not contain it.
FORBIDDEN_IN_CONTRIBUTOR_ID = ("|", ",", "/", "\\", "\n", "\r", "\t")


def submission_key(contributor_id: str, period: date) -> MultiPartitionKey:
    return MultiPartitionKey({"contributor": contributor_id, "period": period.isoformat()})


def split_submission_key(key: MultiPartitionKey | str) -> tuple[str, date]:
    if not isinstance(key, MultiPartitionKey):
        contributor_id, period = str(key).split("|", 1)
        return contributor_id, date.fromisoformat(period)
    dims = key.keys_by_dimension
    return dims["contributor"], date.fromisoformat(dims["period"])


def valid_contributor_id(contributor_id: str) -> bool:
    return bool(contributor_id.strip()) and not any(c in contributor_id for c in FORBIDDEN_IN_CONTRIBUTOR_ID)
