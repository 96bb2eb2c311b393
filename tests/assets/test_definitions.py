"""The code location as the Dagster UI and the daemon load it: the asset graph, its partitions, checks, jobs,
sensors and schedule. A change to any of them is a change operators see; it must show up here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from dagster import (
    DailyPartitionsDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    MonthlyPartitionsDefinition,
    MultiPartitionsDefinition,
)

from conftest import ROOT
from onett_assets.definitions import build_definitions
from onett_resources import load_settings

GRAPH = {  # asset: (partitions, upstream assets)
    "raw_submission": ("contributor x month", set()),
    "filtered": ("contributor x month", {"raw_submission"}),
    "reference_corpus": (None, set()),
    "deduped": ("contributor x month", {"filtered", "reference_corpus"}),
    "token_counts": ("contributor x month", {"deduped"}),
    "api_revenue": ("month", set()),
    "contribution_ratios": ("month", {"token_counts"}),
    "payouts": ("month", {"contribution_ratios", "api_revenue"}),
    "training_release": ("month", {"payouts"}),
    "erasures": (None, {"token_counts", "training_release"}),
    "club_membership": (None, {"token_counts"}),
    "payment_run": ("month", {"payouts"}),
    "payment_settlements": (None, {"payment_run"}),
    "api_usage": ("month", set()),
    "api_credit": ("month", {"token_counts", "api_usage", "payouts"}),
    "recitation_index": (None, {"token_counts", "erasures"}),
    "near_duplicate_index": (None, {"deduped", "erasures"}),
    "recitation_incidents": ("day", {"recitation_index"}),
}
CHECKS = {
    ("payouts", "payouts_sum_to_pool"),
    ("contribution_ratios", "ratios_sum_to_one"),
    ("contribution_ratios", "credited_tokens_match_funnel"),
    ("training_release", "tokens_match_ratios"),
    ("api_credit", "api_credit_balances"),
}
JOBS = {
    "ingest_submission": {"raw_submission", "filtered", "deduped", "token_counts"},
    "read_submission": {"raw_submission"},
    "filter_submission": {"filtered"},
    "credit_submission": {"deduped", "token_counts"},
    "refresh_reference": {"reference_corpus"},
    "load_revenue": {"api_revenue"},
    "close_period": {"api_revenue", "contribution_ratios", "payouts", "training_release", "api_usage", "api_credit"},
    "cut_release": {"training_release"},
    "finish_erasures": {"erasures"},
    "count_membership": {"club_membership"},
    "prepare_payment_run": {"payment_run"},
    "settle_payments": {"payment_settlements"},
    "update_indexes": {"recitation_index", "near_duplicate_index"},
    "check_recitations": {"recitation_incidents"},
}


@pytest.fixture
def defs(onett):
    return build_definitions(load_settings())


def _partitions(partitions_def) -> str | None:
    if isinstance(partitions_def, MultiPartitionsDefinition):
        return " x ".join({"contributor": "contributor", "period": "month"}[d.name]
                          for d in partitions_def.partitions_defs)
    if isinstance(partitions_def, MonthlyPartitionsDefinition):
        return "month"
    if isinstance(partitions_def, DailyPartitionsDefinition):
        return "day"
    assert partitions_def is None, partitions_def
    return None


def test_asset_graph_and_partitions(defs):
    graph = defs.resolve_asset_graph()
    found = {key.to_user_string(): (_partitions(graph.get(key).partitions_def),
                                    {p.to_user_string() for p in graph.get(key).parent_keys})
             for key in graph.get_all_asset_keys()}
    assert found == GRAPH
    months = graph.get(next(k for k in graph.get_all_asset_keys() if k.to_user_string() == "payouts")).partitions_def
    assert months.timezone == "Asia/Seoul" and months.start.strftime("%Y-%m") == "2023-01"
    # the writing steps share the warehouse's single writer
    pools = {k.to_user_string(): graph.get(k).pools for k in graph.get_all_asset_keys()}
    assert {name for name, pool in pools.items() if pool == {"duckdb"}} == set(GRAPH) - {
        "filtered", "payment_settlements", "recitation_index"}


def test_checks_jobs_sensors_and_schedule(defs):
    graph = defs.resolve_asset_graph()
    assert {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys} == CHECKS
    assert all(graph.get_check_spec(k).blocking for k in graph.asset_check_keys)
    jobs = {}
    for name in JOBS:
        job = defs.resolve_job_def(name)
        jobs[name] = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert jobs == JOBS
    sensors = {s.name: (s.minimum_interval_seconds, {j.name for j in s.jobs}, s.default_status)
               for s in (defs.resolve_sensor_def(n) for n in ("landing_zone_sensor", "reference_and_revenue_sensor",
                                                              "erasure_sensor", "bank_statement_sensor",
                                                              "index_update_sensor"))}
    assert sensors == {
        "landing_zone_sensor": (30, {"ingest_submission"}, DefaultSensorStatus.RUNNING),
        "reference_and_revenue_sensor": (60, {"refresh_reference", "load_revenue"}, DefaultSensorStatus.RUNNING),
        "erasure_sensor": (30, {"finish_erasures"}, DefaultSensorStatus.RUNNING),
        "bank_statement_sensor": (60, {"settle_payments"}, DefaultSensorStatus.RUNNING),
        "index_update_sensor": (60, {"update_indexes"}, DefaultSensorStatus.RUNNING),
    }
    schedules = {(s.name, s.cron_schedule, s.execution_timezone, s.job_name, s.default_status)
                 for s in defs.schedules}
    assert schedules == {("monthly_close", "0 3 1 * *", "Asia/Seoul", "close_period", DefaultScheduleStatus.RUNNING),
                         ("daily_recitation_check", "30 0 * * *", "Asia/Seoul", "check_recitations",
                          DefaultScheduleStatus.RUNNING)}


def test_partitions_follow_the_settings(onett, monkeypatch):
    """Partitions and the schedule are built from the Settings handed to the definitions, not from whatever the
    environment held when a module was first imported."""
    monkeypatch.setenv("ONETT_TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("ONETT_FIRST_PERIOD", "2025-06")
    defs = build_definitions(load_settings())
    graph = defs.resolve_asset_graph()
    months = graph.get(next(k for k in graph.get_all_asset_keys() if k.to_user_string() == "api_revenue")).partitions_def
    assert months.timezone == "Europe/Berlin" and months.start.strftime("%Y-%m") == "2025-06"
    assert defs.resolve_schedule_def("monthly_close").execution_timezone == "Europe/Berlin"


def test_code_location_loads_as_dagster_loads_it(onett):
    """`dagster dev` and the daemon load the code location named in workspace.yaml, with the settings of their
    environment."""
    out = subprocess.run([str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w",
                          str(ROOT / "workspace.yaml")], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "onett" in out.stdout + out.stderr
