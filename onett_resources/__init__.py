"""Everything that touches the outside world: files, the warehouse, the tokenizer, worker processes, settings.

The names below are imported on first use, so a process that needs one module (a preprocessing worker needs
`preprocessing_jobs`, `parquet_parts` and `worker_process`, none of which load Dagster) does not import them all.
"""

from importlib import import_module

_MODULES = {
    "ConsentRegistry": "consent", "DiskRoom": "disk_room", "DisputeRegister": "disputes", "DocumentStore": "document_store", "LandingZone": "landing_zone",
    "PaymentRegister": "payments",
    "ReferenceFolder": "reference", "ReleaseStore": "release_store", "RevenueSource": "revenue", "Settings": "settings", "load_settings": "settings", "Tokenizer": "tokenizer",
    "UploadArchive": "upload_archive", "Warehouse": "warehouse", "Workers": "workers",
    "UsageFeed": "api_usage", "OutputLogs": "output_logs", "RecitationStore": "recitation_store",
}
__all__ = sorted(_MODULES)


def __getattr__(name: str):
    if name not in _MODULES:
        raise AttributeError(f"module 'onett_resources' has no attribute {name!r}")
    return getattr(import_module(f"onett_resources.{_MODULES[name]}"), name)
