"""What needs processing: the landing zone, reference folder and revenue files compared with what the
Dagster event log says was last computed from them. The sensors and `onett ingest` share this, so a file is
processed once whichever of them sees it first, and a restarted daemon finds nothing new to do."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from onett_assets.partitions import split_submission_key, submission_key, valid_contributor_id
from onett_resources import LandingFile, LandingZone, Platform, ReferenceFolder, RevenueSource
from onett_resources.landing_zone import partition_fingerprint
from onett_resources.revenue import RevenueDay, revenue_fingerprint

TOKEN_COUNTS = AssetKey("token_counts")
REFERENCE = AssetKey("reference_corpus")
API_REVENUE = AssetKey("api_revenue")


@dataclass
class PendingSubmission:
    contributor_id: str
    period: date
    fingerprint: str
    files: list[LandingFile]

    @property
    def partition_key(self):
        return submission_key(self.contributor_id, self.period)

    def youngest_age(self, now: float) -> float:
        return min((f.age_seconds(now) for f in self.files), default=float("inf"))


@dataclass
class IngestPlan:
    pending: list[PendingSubmission] = field(default_factory=list)
    new_contributors: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # what cannot be processed now, and why


def latest_metadata(instance: DagsterInstance, asset_key: AssetKey, partitions: list[str] | None, key: str) -> dict:
    """The newest value of a metadata entry per partition (or under None when unpartitioned)."""
    found: dict = {}
    cursor = None
    wanted = None if partitions is None else set(partitions)
    while True:
        records_filter = AssetRecordsFilter(asset_key=asset_key, asset_partitions=partitions)
        result = instance.fetch_materializations(records_filter, limit=1000, cursor=cursor)
        for record in result.records:
            materialization = record.asset_materialization
            if materialization is None:
                continue
            partition = materialization.partition
            if partition not in found:
                entry = materialization.metadata.get(key)
                found[partition] = entry.value if entry is not None else None
        if not result.has_more or (wanted is not None and wanted <= found.keys()):
            return found
        cursor = result.cursor


def reference_fingerprint_in_use(instance: DagsterInstance) -> str:
    return latest_metadata(instance, REFERENCE, None, "fingerprint").get(None) or ""


def reference_needs_refresh(instance: DagsterInstance, reference_folder: ReferenceFolder) -> bool:
    materialized = latest_metadata(instance, REFERENCE, None, "fingerprint")
    return materialized.get(None, "never") != reference_folder.fingerprint()


def plan_ingest(instance: DagsterInstance, landing_zone: LandingZone, platform: Platform) -> IngestPlan:
    plan = IngestPlan()
    groups: dict[str, list[LandingFile]] = defaultdict(list)
    now = datetime.now(platform.tz)
    this_month = date(now.year, now.month, 1)
    for entry in landing_zone.snapshot():
        if not valid_contributor_id(entry.contributor_id):
            reason = f"{entry.contributor_id!r}: a contributor folder name must not contain | , / \\ or control characters"
            if reason not in plan.ignored:
                plan.ignored.append(reason)
            continue
        period = entry.period(platform.tz, platform.first_period_date)
        if period > this_month:
            plan.ignored.append(
                f"{entry.contributor_id}/{entry.file}: modified in the future ({entry.submitted_at:%Y-%m-%d %H:%M} UTC); "
                "it is processed once its month has begun"
            )
            continue
        groups[str(submission_key(entry.contributor_id, period))].append(entry)

    known = set(instance.get_dynamic_partitions("contributors"))
    plan.new_contributors = sorted({split_submission_key(k)[0] for k in groups} - known)
    materialized = instance.get_materialized_partitions(TOKEN_COUNTS) if known else set()
    keys = sorted(set(groups) | set(materialized))
    last = latest_metadata(instance, TOKEN_COUNTS, keys, "input_fingerprint") if keys else {}
    reference = reference_fingerprint_in_use(instance)
    for key in keys:
        files = groups.get(key, [])
        current = partition_fingerprint([(f.file, f.size, f.mtime_ns) for f in files], reference)
        if last.get(key) != current:
            contributor_id, period = split_submission_key(key)
            plan.pending.append(PendingSubmission(contributor_id, period, current, files))
    return plan


def revenue_months_to_refresh(instance: DagsterInstance, revenue_source: RevenueSource) -> list[tuple[date, str]]:
    """Months whose daily revenue rows differ from what `api_revenue` last loaded."""
    by_month: dict[str, list[RevenueDay]] = defaultdict(list)
    for day in revenue_source.days():
        by_month[day.date.replace(day=1).isoformat()].append(day)
    loaded = latest_metadata(instance, API_REVENUE, sorted(by_month), "revenue_fingerprint") if by_month else {}
    current = {m: revenue_fingerprint(days) for m, days in by_month.items()}
    return [(date.fromisoformat(m), fp) for m, fp in sorted(current.items()) if loaded.get(m) != fp]

