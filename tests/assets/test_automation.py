"""Sensors, schedule, partitions and lineage: what runs when, and what depends on what."""

from __future__ import annotations

import os
import time
from datetime import date, datetime

from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    MultiPartitionKey,
    RunRequest,
    SensorResult,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
)

from conftest import SEOUL, seoul


def evaluate(sensor, instance, resources):
    return sensor(build_sensor_context(instance=instance, resources=resources))


def test_landing_zone_sensor_requests_each_change_once(onett, monkeypatch):
    from onett_assets.definitions import build_resources
    from onett_assets.sensors import landing_zone_sensor
    from onett_resources import load_settings

    onett.drop("한빛출판사", "a.jsonl", [{"text": "첫 번째 문서입니다. 충분히 긴 한국어 문장입니다."}], seoul(2026, 9, 3))
    onett.drop("bob", "b.txt", "A document long enough to be kept by the filters.", seoul(2026, 10, 3))
    instance = DagsterInstance.get()
    resources = build_resources(load_settings())

    result = evaluate(landing_zone_sensor, instance, resources)
    assert isinstance(result, SensorResult)
    keys = sorted(str(r.partition_key) for r in result.run_requests)
    assert keys == ["bob|2026-10-01", "한빛출판사|2026-09-01"]
    assert len({r.run_key for r in result.run_requests}) == 2
    assert sorted(result.dynamic_partitions_requests[0].partition_keys) == ["bob", "한빛출판사"]

    # Apply what the daemon would: register the contributors and run the requests.
    instance.add_dynamic_partitions("contributors", ["bob", "한빛출판사"])
    session = onett.session()
    for request in result.run_requests:
        assert session.run("ingest_submission", request.partition_key).success
    again = evaluate(landing_zone_sensor, instance, resources)
    assert isinstance(again, SkipReason) and "no new or changed" in again.skip_message

    # Touching a file into another month re-runs the month it left and the month it joined.
    when = seoul(2026, 11, 2).timestamp()
    os.utime(onett.landing / "bob" / "b.txt", (when, when))
    moved = evaluate(landing_zone_sensor, instance, resources)
    assert sorted(str(r.partition_key) for r in moved.run_requests) == ["bob|2026-10-01", "bob|2026-11-01"]


def test_sensor_waits_for_files_still_being_written(onett, monkeypatch):
    from onett_assets.definitions import build_resources
    from onett_assets.sensors import landing_zone_sensor
    from onett_resources import load_settings

    monkeypatch.setenv("ONETT_SETTLE_SECONDS", "3600")
    path = onett.landing / "carol" / "growing.txt"
    path.parent.mkdir(parents=True)
    path.write_text("A file that was modified a moment ago and may still be growing.")
    result = evaluate(landing_zone_sensor, DagsterInstance.get(), build_resources(load_settings()))
    assert isinstance(result, SkipReason) and "settling" in result.skip_message


def test_reference_and_revenue_sensor(onett):
    from onett_assets.definitions import build_resources
    from onett_assets.sensors import reference_and_revenue_sensor
    from onett_resources import load_settings

    onett.reference("web.jsonl", [{"id": "w1", "text": "Public text the consumer already has."}])
    onett.revenue([("2026-09-30", 1, 2, 3, "10.5"), ("2026-10-01", 1, 2, 3, "20")])
    instance = DagsterInstance.get()
    requests = evaluate(reference_and_revenue_sensor, instance, build_resources(load_settings()))
    jobs = sorted((r.job_name, r.partition_key) for r in requests)
    assert jobs == [("load_revenue", "2026-09-01"), ("load_revenue", "2026-10-01"), ("refresh_reference", None)]
    onett.ok("ingest")  # loads both through the same jobs
    assert isinstance(evaluate(reference_and_revenue_sensor, instance, build_resources(load_settings())), SkipReason)


def test_index_update_sensor_follows_the_pool_and_the_indexes():
    from onett_assets.sensors import index_update_sensor

    instance = DagsterInstance.ephemeral()

    def materialized(*assets: str) -> None:
        for asset in assets:
            instance.report_runless_asset_event(AssetMaterialization(asset))

    assert isinstance(evaluate(index_update_sensor, instance, {}), SkipReason)  # nothing counted yet
    materialized("token_counts")
    first = evaluate(index_update_sensor, instance, {})
    assert isinstance(first, RunRequest)
    materialized("recitation_index")  # one index updated since: the other still due, under the same key
    assert evaluate(index_update_sensor, instance, {}).run_key == first.run_key
    materialized("near_duplicate_index")
    assert isinstance(evaluate(index_update_sensor, instance, {}), SkipReason)
    materialized("erasures")  # an erasure finished: due again, under a new key
    again = evaluate(index_update_sensor, instance, {})
    assert isinstance(again, RunRequest) and again.run_key != first.run_key


def test_erasure_sensor_retries_pending_erasures_after_each_ingest(tmp_path):
    from onett_assets.sensors import erasure_sensor
    from onett_resources import ConsentRegistry

    instance = DagsterInstance.ephemeral()
    consent = ConsentRegistry(path=str(tmp_path / "consent.sqlite"))
    assert isinstance(evaluate(erasure_sensor, instance, {"consent": consent}), SkipReason)  # nothing pending
    first = consent.request_erasure("bob", "b.txt", "ab" * 32, "bob", "withdrawn consent")
    before = evaluate(erasure_sensor, instance, {"consent": consent})  # before any ingest: a first chance
    assert isinstance(before, RunRequest)
    assert evaluate(erasure_sensor, instance, {"consent": consent}).run_key == before.run_key  # not launched twice
    instance.report_runless_asset_event(AssetMaterialization("token_counts"))  # an ingest: a new chance
    counted = evaluate(erasure_sensor, instance, {"consent": consent})
    assert isinstance(counted, RunRequest) and counted.run_key != before.run_key
    second = consent.request_erasure("amy", "*", "", "operator", "contract ended")
    both = evaluate(erasure_sensor, instance, {"consent": consent})
    assert both.run_key not in {before.run_key, counted.run_key}
    consent.mark_done(first.id)
    consent.mark_done(second.id)
    assert isinstance(evaluate(erasure_sensor, instance, {"consent": consent}), SkipReason)


def test_monthly_close_schedule_targets_the_month_that_ended():
    from onett_assets.schedules import monthly_close
    from onett_resources import load_settings

    schedule = monthly_close(load_settings().policy)
    context = build_schedule_context(scheduled_execution_time=datetime(2026, 11, 1, 3, tzinfo=SEOUL))
    request = schedule(context)
    assert request.partition_key == "2026-10-01"
    january = schedule(build_schedule_context(scheduled_execution_time=datetime(2027, 1, 1, 3, tzinfo=SEOUL)))
    assert january.partition_key == "2026-12-01"


def test_lineage_and_period_partition_mapping(onett):
    from onett_assets.definitions import build_definitions
    from onett_resources import load_settings

    defs = build_definitions(load_settings())
    graph = defs.resolve_asset_graph()
    parents = {k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys} for k in graph.get_all_asset_keys()}
    assert parents["filtered"] == {"raw_submission"}
    assert parents["deduped"] == {"filtered", "reference_corpus"}
    assert parents["token_counts"] == {"deduped"}
    assert parents["contribution_ratios"] == {"token_counts"}
    assert parents["payouts"] == {"contribution_ratios", "api_revenue"}

    instance = DagsterInstance.get()
    instance.add_dynamic_partitions("contributors", ["alice", "bob"])
    ratios = graph.get(AssetKey("contribution_ratios"))
    dep = next(d for d in ratios.parent_keys)
    mapping = graph.get_partition_mapping(ratios.key, dep)
    token_counts_def = graph.get(dep).partitions_def
    upstream = mapping.get_upstream_mapped_partitions_result_for_partitions(
        ratios.partitions_def.subset_with_partition_keys(["2026-10-01"]),
        ratios.partitions_def,
        token_counts_def,
        current_time=datetime(2026, 11, 23),
        dynamic_partitions_store=instance,
    ).partitions_subset.get_partition_keys()
    assert sorted(map(str, upstream)) == ["alice|2026-10-01", "bob|2026-10-01"]
    assert all(isinstance(k, MultiPartitionKey) for k in upstream)


def test_every_filter_group_is_a_funnel_stage():
    """A rule whose group has no funnel stage would be counted as removed only at exact_dedup: never silently."""
    from onett_domain.funnel import STAGES
    from onett_text.quality import GROUPS, RULES

    groups = list(dict.fromkeys(rule.group for rule in RULES))
    assert groups == list(GROUPS)
    assert [s.name for s in STAGES][2:2 + len(groups)] == groups
