"""Jobs: what the sensors, the schedule and the CLI launch. Partitions come from the selected assets. All run in
one process per run: the steps share one DuckDB writer anyway, and a process per step would cost more than small
uploads take to process."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

ingest_submission = define_asset_job(
    "ingest_submission",
    selection=AssetSelection.assets("raw_submission", "filtered", "deduped", "token_counts"),
    description="Read, filter, deduplicate and count one contributor's uploads of one month.",
)

# The same steps as three jobs, so `onett ingest` can filter one submission on the workers while another process
# deduplicates the one before in the warehouse (reading and deduplicating both write the warehouse).
read_submission = define_asset_job(
    "read_submission",
    selection=AssetSelection.assets("raw_submission"),
    description="Read one contributor's uploads of one month.",
)

filter_submission = define_asset_job(
    "filter_submission",
    selection=AssetSelection.assets("filtered"),
    description="Normalize, mask, filter and count one contributor's documents of one month.",
)

credit_submission = define_asset_job(
    "credit_submission",
    selection=AssetSelection.assets("deduped", "token_counts"),
    description="Deduplicate one contributor's filtered month against everything before it, and count it.",
)

refresh_reference = define_asset_job(
    "refresh_reference",
    selection=AssetSelection.assets("reference_corpus"),
    description="Re-read the reference corpus (text the consumer already has or that is public).",
)

load_revenue = define_asset_job(
    "load_revenue",
    selection=AssetSelection.assets("api_revenue"),
    description="Load the consumer's daily API usage and revenue of one month.",
)

close_period = define_asset_job(
    "close_period",
    selection=AssetSelection.assets("api_revenue", "contribution_ratios", "payouts", "training_release",
                                    "api_usage", "api_credit"),
    description="Close a month: its revenue, contribution ratios and payouts, with the money checks, its "
                "training release, and the partners' API usage and credit ledger.",
)

cut_release = define_asset_job(
    "cut_release",
    selection=AssetSelection.assets("training_release"),
    description="Cut a month's training release for the data consumer (nothing new if its documents are unchanged).",
)

finish_erasures = define_asset_job(
    "finish_erasures",
    selection=AssetSelection.assets("erasures"),
    description="Finish the erasure requests whose submissions were processed without the erased file.",
)

count_membership = define_asset_job(
    "count_membership",
    selection=AssetSelection.assets("club_membership"),
    description="Count the words each contributor contributed against the 1T Club's membership threshold.",
)

prepare_payment_run = define_asset_job(
    "prepare_payment_run",
    selection=AssetSelection.assets("payment_run"),
    description="Prepare a closed month's payment run (tag onett/operator: who prepares it); another operator "
                "approves it.",
)

settle_payments = define_asset_job(
    "settle_payments",
    selection=AssetSelection.assets("payment_settlements"),
    description="Apply the bank statements dropped in the bank statement folder to the payment runs.",
)

update_indexes = define_asset_job(
    "update_indexes",
    selection=AssetSelection.assets("recitation_index", "near_duplicate_index"),
    description="Bring the pool's indexes up to date after submissions or erasures: the recitation guard's index of "
                "every text earning now, and the near-duplicate index's bucket shards merged by size.",
)

check_recitations = define_asset_job(
    "check_recitations",
    selection=AssetSelection.assets("recitation_incidents"),
    description="Check one day's model outputs (the consumer's output logs) against contributed text.",
)

JOBS = [ingest_submission, read_submission, filter_submission, credit_submission, refresh_reference, load_revenue,
        close_period, cut_release, finish_erasures, count_membership, prepare_payment_run, settle_payments,
        update_indexes, check_recitations]
