"""The onett code location: every asset, check, job, sensor, schedule and resource in one place."""

from __future__ import annotations

from dagster import Definitions, in_process_executor, load_assets_from_modules

from onett_assets import checks, jobs
from onett_assets.assets import ingest, payouts, reference, revenue
from onett_assets.schedules import monthly_close
from onett_assets.sensors import landing_zone_sensor, reference_and_revenue_sensor
from onett_resources import (
    LandingZone,
    DocumentStore,
    Platform,
    ReferenceFolder,
    RevenueSource,
    Settings,
    Tokenizer,
    UploadArchive,
    Warehouse,
    Workers,
    load_settings,
)


def build_resources(settings: Settings) -> dict:
    """Resources from settings: tests build their own from a temporary environment."""
    return {
        "landing_zone": LandingZone(
            path=str(settings.landing_dir),
            settle_seconds=settings.settle_seconds,
            max_document_mb=settings.max_document_mb,
            max_unpacked_mb=settings.max_unpacked_mb,
            max_compression_ratio=settings.max_compression_ratio,
        ),
        "reference_folder": ReferenceFolder(path=str(settings.reference_dir)),
        "revenue_source": RevenueSource(path=str(settings.revenue_dir)),
        "warehouse": Warehouse(
            database=str(settings.warehouse),
            # DuckDB takes 80% of RAM by default; bounded, its joins spill to disk instead of crowding the workers.
            connection_config={"memory_limit": settings.warehouse_memory, "temp_directory": str(settings.warehouse) + ".tmp",
                               **({"threads": settings.warehouse_threads} if settings.warehouse_threads else {})},
        ),
        "tokenizer": Tokenizer(encoding=settings.encoding, count_raw=settings.count_raw_tokens),
        "platform": Platform(
            alpha=str(settings.alpha),
            currency=settings.currency,
            timezone=settings.timezone,
            first_period=settings.first_period.isoformat(),
        ),
        "document_store": DocumentStore(base_dir=str(settings.storage_dir)),
        "workers": Workers(processes=settings.workers),
        "upload_archive": UploadArchive(path=str(settings.storage_dir / "uploads")),
    }


def build_definitions(settings: Settings | None = None) -> Definitions:
    return Definitions(
        assets=load_assets_from_modules([ingest, reference, revenue, payouts]),
        asset_checks=[checks.payouts_sum_to_pool, checks.ratios_sum_to_one, checks.credited_tokens_match_funnel],
        jobs=[jobs.ingest_submission, jobs.read_submission, jobs.filter_submission, jobs.credit_submission,
              jobs.refresh_reference,
              jobs.load_revenue, jobs.close_period],
        sensors=[landing_zone_sensor, reference_and_revenue_sensor],
        schedules=[monthly_close],
        resources=build_resources(settings or load_settings()),
        # One process per run: the steps of a run share DuckDB's single writer, and spawning a process per
        # step costs more than most uploads take to process. Scale out with a run launcher, not per step.
        executor=in_process_executor,
    )


defs = build_definitions()
