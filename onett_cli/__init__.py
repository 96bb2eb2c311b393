"""`onett`: the platform from a terminal. Argument parsing and printing over the same Dagster jobs, planner and
domain the UI, the sensors and the portal use, on the same instance, so every run shows up in the Dagster UI too."""
