"""Everything that touches the outside world: files, the warehouse, the tokenizer, revenue, settings."""

from onett_resources.landing_zone import LandingFile, LandingZone
from onett_resources.document_store import DocumentStore
from onett_resources.platform import Platform
from onett_resources.reference import ReferenceFolder
from onett_resources.revenue import RevenueSource
from onett_resources.settings import Settings, load_settings
from onett_resources.tokenizer import Tokenizer
from onett_resources.upload_archive import UploadArchive
from onett_resources.warehouse import Warehouse
from onett_resources.workers import Workers

__all__ = [
    "DocumentStore", "LandingFile", "LandingZone", "Platform", "ReferenceFolder", "RevenueSource", "Settings",
    "Tokenizer", "UploadArchive", "Warehouse", "Workers", "load_settings",
]
