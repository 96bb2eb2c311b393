"""The onett code location: every asset, check, job, sensor, schedule and resource, built from one Settings."""

from __future__ import annotations

import warnings

from dagster import BetaWarning, Definitions, PreviewWarning, definitions, in_process_executor

from onett_assets.assets.api_credit import api_credit_assets
from onett_assets.assets.erasure import erasure_assets
from onett_assets.assets.ingest import ingest_assets
from onett_assets.assets.membership import membership_assets
from onett_assets.assets.payments import payment_assets
from onett_assets.assets.payouts import payout_assets
from onett_assets.assets.recitation import recitation_assets
from onett_assets.assets.reference import reference_assets
from onett_assets.assets.releases import release_assets
from onett_assets.assets.revenue import revenue_assets
from onett_assets.checks import CHECKS
from onett_assets.jobs import JOBS
from onett_assets.partitions import build_partitions
from onett_assets.schedules import daily_recitation_check, monthly_close
from onett_assets.sensors import SENSORS
from onett_resources.durable import keep_private
from onett_resources import (
    ConsentRegistry,
    DiskRoom,
    DisputeRegister,
    DocumentStore,
    LandingZone,
    OutputLogs,
    PaymentRegister,
    RecitationStore,
    ReferenceFolder,
    ReleaseStore,
    RevenueSource,
    Settings,
    Tokenizer,
    UploadArchive,
    UsageFeed,
    Warehouse,
    Workers,
    load_settings,
)

# MultiToSingleDimensionPartitionMapping and pools are marked beta/preview; they are what Dagster documents.
warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)


def build_resources(settings: Settings, keep_workers: bool = False) -> dict:
    """The outside world as the assets see it, from one Settings (tests build their own). `keep_workers`: the
    preprocessing workers stay for the next run in this process (the `onett` command)."""
    return {
        "policy": settings.policy,
        "landing_zone": LandingZone(
            path=str(settings.landing_dir),
            settle_seconds=settings.settle_seconds,
            max_document_mb=settings.max_document_mb,
            max_unpacked_mb=settings.max_unpacked_mb,
            max_compression_ratio=settings.max_compression_ratio,
            extraction_seconds=settings.extraction_seconds,
            extraction_memory_mb=settings.extraction_memory_mb,
            split_sections=settings.split_sections,
        ),
        "reference_folder": ReferenceFolder(path=str(settings.reference_dir)),
        "revenue_source": RevenueSource(path=str(settings.revenue_dir)),
        "usage_feed": UsageFeed(path=str(settings.usage_dir)),
        "warehouse": Warehouse(
            database=str(settings.warehouse),
            # DuckDB takes 80% of RAM by default; bounded, its joins spill to disk instead of crowding the workers.
            connection_config={"memory_limit": settings.warehouse_memory,
                               "temp_directory": str(settings.warehouse) + ".tmp",
                               **({"threads": settings.warehouse_threads} if settings.warehouse_threads else {})},
        ),
        "tokenizer": Tokenizer(encoding=settings.encoding, count_raw=settings.count_raw_tokens),
        "document_store": DocumentStore(base_dir=str(settings.storage_dir)),
        "disk_room": DiskRoom(storage=str(settings.storage_dir), warehouse=str(settings.warehouse),
                              recitation_index=str(settings.recitation_index_dir),
                              headroom=float(settings.disk_headroom)),
        "workers": Workers(processes=settings.workers, stay=keep_workers, ray_address=settings.ray_address),
        "consent": ConsentRegistry(path=str(settings.consent)),
        "disputes": DisputeRegister(path=str(settings.payments)),
        "payments": PaymentRegister.from_settings(settings),
        "release_store": ReleaseStore(base_dir=str(settings.release_dir), shard_mb=settings.release_shard_mb,
                                      publisher=settings.operator_name, publisher_url=settings.public_url),
        "upload_archive": UploadArchive(path=str(settings.storage_dir / "uploads"), key_file=str(settings.key_file)),
        "recitation_store": RecitationStore(path=str(settings.recitation_index_dir),
                                            min_tokens=settings.recitation_min_tokens),
        "output_logs": OutputLogs(path=str(settings.output_logs_dir)),
    }


def build_definitions(settings: Settings, keep_workers: bool = False) -> Definitions:
    partitions = build_partitions(settings.policy)
    return Definitions(
        assets=[*ingest_assets(partitions), *reference_assets(), *revenue_assets(partitions),
                *payout_assets(partitions), *payment_assets(partitions), *release_assets(partitions),
                *erasure_assets(), *membership_assets(), *recitation_assets(settings.policy),
                *api_credit_assets(partitions, settings.credit_ratio, settings.credit_expiry_months)],
        asset_checks=CHECKS,
        jobs=JOBS,
        sensors=SENSORS,
        schedules=[monthly_close(settings.policy), daily_recitation_check(settings.policy)],
        resources=build_resources(settings, keep_workers),
        # One process per run: the steps of a run share DuckDB's single writer, and spawning a process per step
        # costs more than most uploads take to process. Scale out with a run launcher, not per step.
        executor=in_process_executor,
    )


@definitions
def defs() -> Definitions:
    """What `dagster dev` and the daemon load: the settings are read from the environment when the code location
    loads, not when this module is imported."""
    keep_private()
    return build_definitions(load_settings())
