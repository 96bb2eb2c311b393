"""Sensors: react to new or changed files in the landing zone, the reference folder and the revenue folder."""

import time

from dagster import (
    AssetKey,
    DefaultSensorStatus,
    ResourceParam,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from onett_assets.jobs import (
    finish_erasures,
    ingest_submission,
    load_revenue,
    refresh_reference,
    settle_payments,
    update_indexes,
)
from onett_assets.partitions import contributors, submission_key
from onett_assets.planning import plan_ingest, reference_needs_refresh, revenue_months_to_refresh
from onett_domain.policy import Policy
from onett_resources import ConsentRegistry, LandingZone, PaymentRegister, ReferenceFolder, RevenueSource


@sensor(job=ingest_submission, minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING)
def landing_zone_sensor(context: SensorEvaluationContext, landing_zone: LandingZone, policy: ResourceParam[Policy],
                        consent: ConsentRegistry):
    """Registers new contributors and requests one run per submission (contributor, month) whose files changed.

    The run key names the partition and the fingerprint of its files, so a restarted daemon never launches the same
    work twice; files still being written wait until they have settled."""
    plan = plan_ingest(context.instance, landing_zone, policy, consent)
    now = time.time()
    ready = [p for p in plan.pending if p.youngest_age(now) >= landing_zone.settle_seconds]
    for reason in plan.ignored:
        context.log.warning(f"not processed: {reason}")
    for alert in plan.alerts:
        context.log.error(f"ALERT: {alert}")
    if not ready:
        waiting = len(plan.pending)
        return SkipReason(f"{waiting} upload(s) still settling" if waiting else "no new or changed uploads")
    # A contributor is registered with its first run, so the partition exists when the run starts.
    new = sorted({p.contributor_id for p in ready} & set(plan.new_contributors))
    requests = []
    for p in ready:
        key = submission_key(p.contributor_id, p.period)
        requests.append(RunRequest(partition_key=key, run_key=f"{key}@{p.fingerprint[:20]}"))
    return SensorResult(run_requests=requests,
                        dynamic_partitions_requests=[contributors.build_add_request(new)] if new else [])


@sensor(jobs=[refresh_reference, load_revenue], minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING)
def reference_and_revenue_sensor(context: SensorEvaluationContext, reference_folder: ReferenceFolder,
                                 revenue_source: RevenueSource):
    """Re-reads the reference corpus when its folder changes (every submission is then re-checked against it) and
    loads the revenue of each month whose billing CSV rows changed."""
    requests = []
    if reference_needs_refresh(context.instance, reference_folder):
        requests.append(RunRequest(job_name=refresh_reference.name,
                                   run_key=f"reference@{reference_folder.fingerprint()[:20]}"))
    for month, fingerprint in revenue_months_to_refresh(context.instance, revenue_source):
        key = month.isoformat()
        requests.append(RunRequest(job_name=load_revenue.name, partition_key=key,
                                   run_key=f"revenue@{key}@{fingerprint[:20]}"))
    return requests or SkipReason("reference corpus and revenue unchanged")


@sensor(job=finish_erasures, minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING)
def erasure_sensor(context: SensorEvaluationContext, consent: ConsentRegistry):
    """Finishes pending erasure requests once their submissions have been processed again (each ingest is a new
    chance, so the run key follows the latest token counts)."""
    pending = consent.erasures(pending=True)
    if not pending:
        return SkipReason("no pending erasure requests")
    stamp = _last_materialized(context, "token_counts")
    return RunRequest(run_key=f"erasures@{pending[0].id}-{pending[-1].id}@{stamp}")


@sensor(job=settle_payments, minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING)
def bank_statement_sensor(context: SensorEvaluationContext, payments: PaymentRegister):
    """Applies bank statements dropped in the bank statement folder. The run key names the files not applied yet by
    their content, so a refused file is not retried until it is replaced or another file arrives."""
    waiting = payments.unapplied_statements()
    if not waiting:
        return SkipReason("no new bank statement")
    return RunRequest(run_key="statements@" + ",".join(sorted(sha[:16] for _, sha in waiting)))


@sensor(job=update_indexes, minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING)
def index_update_sensor(context: SensorEvaluationContext):
    """Updates the pool's indexes once the pool changed (a submission counted, an erasure finished) since they were
    last updated: text that left the pool leaves the recitation guard within a minute of the run that removed it,
    and the near-duplicate index's new files are merged by size."""
    stamp = max(_last_materialized(context, name) for name in ("token_counts", "erasures"))
    if stamp == 0 or all(_last_materialized(context, name) > stamp
                         for name in ("recitation_index", "near_duplicate_index")):
        return SkipReason("the indexes are up to date")
    return RunRequest(run_key=f"indexes@{stamp}")


def _last_materialized(context: SensorEvaluationContext, asset: str) -> int:
    """The event log's id of the asset's latest materialization (0: never), which orders events across assets."""
    records = context.instance.fetch_materializations(AssetKey(asset), limit=1).records
    return records[0].storage_id if records else 0


SENSORS = [landing_zone_sensor, reference_and_revenue_sensor, erasure_sensor, bank_statement_sensor,
           index_update_sensor]
