"""Partitions: contributor (dynamic, added by the landing-zone sensor) x month. A (contributor, month) partition
is one submission: that contributor's uploads of that month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dagster import (
    DynamicPartitionsDefinition,
    MonthlyPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
)

from onett_domain.policy import Policy

contributors = DynamicPartitionsDefinition(name="contributors")


@dataclass(frozen=True)
class Partitions:
    months: MonthlyPartitionsDefinition
    submissions: MultiPartitionsDefinition  # contributor x month


def build_partitions(policy: Policy) -> Partitions:
    # end_offset=1: the month in progress exists too, so uploads and revenue are processed as they arrive.
    months = MonthlyPartitionsDefinition(start_date=policy.first_period.isoformat(), timezone=policy.timezone,
                                         end_offset=1, fmt="%Y-%m-%d")
    return Partitions(months, MultiPartitionsDefinition({"contributor": contributors, "period": months}))


def submission_key(contributor_id: str, period: date) -> MultiPartitionKey:
    return MultiPartitionKey({"contributor": contributor_id, "period": period.isoformat()})


def split_submission_key(key: MultiPartitionKey | str) -> tuple[str, date]:
    if not isinstance(key, MultiPartitionKey):
        contributor_id, period = str(key).split("|", 1)
        return contributor_id, date.fromisoformat(period)
    dims = key.keys_by_dimension
    return dims["contributor"], date.fromisoformat(dims["period"])
