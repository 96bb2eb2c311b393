"""onett: contributors' uploads to exact payouts, as a Dagster asset graph."""
