"""What needs processing, from the landing zone, the reference folder and the revenue files against what the
Dagster event log says was last computed from them (onett_domain.planning decides; this reads the instance). The
sensors and `onett ingest` share it, so a file is processed once whichever of them sees it first."""

from __future__ import annotations

from datetime import date, datetime

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from onett_assets.partitions import contributors, split_submission_key, submission_key
from onett_domain import planning
from onett_domain.periods import month_of
from onett_domain.policy import Policy
from onett_domain.revenue import months_changed
from onett_resources import ConsentRegistry, LandingZone, ReferenceFolder, RevenueSource

TOKEN_COUNTS = AssetKey("token_counts")
REFERENCE = AssetKey("reference_corpus")
API_REVENUE = AssetKey("api_revenue")


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


def plan_ingest(instance: DagsterInstance, landing_zone: LandingZone, policy: Policy,
                consent: ConsentRegistry) -> planning.IngestPlan:
    """The submissions whose uploads changed since their result was computed, and the contributors to register."""
    groups, ignored = planning.group_uploads(landing_zone.snapshot(), policy, month_of(datetime.now(policy.tz).date()))
    known = set(instance.get_dynamic_partitions(contributors.name))
    materialized = instance.get_materialized_partitions(TOKEN_COUNTS) if known else set()
    keys = sorted({str(submission_key(c, p)) for c, p in groups} | set(materialized))
    last = latest_metadata(instance, TOKEN_COUNTS, keys, "input_fingerprint") if keys else {}
    computed = {split_submission_key(k): v for k, v in last.items() if k is not None}
    computed.update({split_submission_key(k): computed.get(split_submission_key(k)) for k in materialized})
    return planning.plan_ingest(groups, ignored, known, computed, reference_fingerprint_in_use(instance),
                                consent.consent_lookup(), landing_zone.folder_problems({c for c, _ in computed}))


def revenue_months_to_refresh(instance: DagsterInstance, revenue_source: RevenueSource) -> list[tuple[date, str]]:
    """Months whose daily revenue rows differ from what `api_revenue` last loaded."""
    days = revenue_source.days()
    months = sorted({d.date.replace(day=1).isoformat() for d in days})
    loaded = latest_metadata(instance, API_REVENUE, months, "revenue_fingerprint") if months else {}
    return months_changed(days, {date.fromisoformat(m): fp for m, fp in loaded.items() if m is not None})
