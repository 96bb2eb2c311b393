"""First-come credit: which documents earn. `decide` is the entry point; `near_index` keeps the MinHash index it
searches, with its band buckets in Parquet shards (`bucket_index`)."""

from onett_domain.credit.decision import COMPETING, Outcome, decide

__all__ = ["COMPETING", "Outcome", "decide"]
