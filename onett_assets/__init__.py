"""The Dagster code location: the asset graph (raw_submission -> filtered -> deduped -> token_counts ->
contribution_ratios -> payouts, with reference_corpus and api_revenue feeding in), its partitions, checks, jobs,
sensors and schedule. Assets are thin: they call the domain (onett_domain) and the resources (onett_resources),
write, and return the metadata operators read in the UI.

Modules that define assets, checks, sensors or schedules do without `from __future__ import annotations`: Dagster
reads the real annotations (context types, resources)."""
