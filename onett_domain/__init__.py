"""The platform's rules: months, money, uploads, credit, earning, payouts and statements. No Dagster here: the
code location, the portal and the CLI all call the same functions, with a warehouse connection where needed."""
