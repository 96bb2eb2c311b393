"""payouts -> payment_run -> payment_settlements: the money owed, the run that pays it, the bank's answer
(onett_domain.payments, onett_resources.payments)."""

from datetime import date

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from onett_assets.metadata import table
from onett_assets.partitions import Partitions
from onett_domain.payments import StatementError
from onett_resources import PaymentRegister, Warehouse
from onett_resources.payments import PaymentError, owed_from_warehouse

GROUP = "payments"
OPERATOR_TAG = "onett/operator"


def _run_metadata(register: PaymentRegister, run_id: int) -> dict:
    run, items = register.run(run_id), register.items(run_id)
    payees = {p.contributor_id: p.masked for p in register.payees()}

    def rows(*statuses: str) -> list[list]:
        return [[i.contributor_id, register.money(i.amount), i.end_to_end_id or "", payees.get(i.contributor_id, ""),
                 i.status, i.reason] for i in items if i.status in statuses]

    paying = [i for i in items if i.status in ("pending", "sent", "paid", "failed")]
    header = ["contributor", "amount", "end-to-end id", "account", "status", "reason"]
    return {
        "run": run.id,
        "state": run.state,
        "prepared by": run.prepared_by,
        "approved by": run.approved_by or "waiting for a second operator",
        "payments": len(paying),
        "to pay": register.money(sum(i.amount for i in paying)),
        "payees": table(header, rows("pending", "sent", "paid", "failed")),
        "carried": table(header, rows("carried"), empty="none"),
        "held back": table(header, rows("held"), empty="none"),
    }


def payment_assets(partitions: Partitions) -> list[AssetsDefinition]:
    @asset(group_name=GROUP, partitions_def=partitions.months, kinds={"sqlite"}, pool="duckdb",
           deps=[AssetDep("payouts")])
    def payment_run(context: AssetExecutionContext, warehouse: Warehouse, payments: PaymentRegister) -> MaterializeResult:
        """The month's payment run, once the month is closed: every contributor's balance (everything published
        for the closed months up to this one, minus what earlier runs paid or have in flight), paid if their bank
        details are confirmed and it reaches the minimum payout, else carried forward or held back with the reason.
        Prepared here in the name of the run's `onett/operator` tag; a second operator approves it in the portal
        or with `onett payments approve` before its payment file can be exported."""
        period = date.fromisoformat(context.partition_key)
        active = payments.active_run(period)
        if active is None:
            prepared_by = context.run.tags.get(OPERATOR_TAG) or payments.operator
            try:
                active = payments.prepare(owed_from_warehouse(warehouse, period, payments.currency), prepared_by)
            except (PaymentError, ValueError) as exc:
                raise Failure(description=f"{period:%Y-%m}: no payment run prepared: {exc}",
                              metadata={"month": f"{period:%Y-%m}"}) from None
            context.log.info(f"{period:%Y-%m}: run {active.id} prepared by {prepared_by}")
        else:
            context.log.info(f"{period:%Y-%m}: run {active.id} is {active.state} already; nothing prepared")
        return MaterializeResult(metadata=_run_metadata(payments, active.id))

    @asset(group_name=GROUP, kinds={"sqlite"}, deps=[AssetDep(payment_run)])
    def payment_settlements(context: AssetExecutionContext, payments: PaymentRegister) -> MaterializeResult:
        """The bank's answer: statement CSVs dropped in the bank statement folder
        (`end_to_end_id,amount,currency,status,booked_on[,reason]`), each applied once (by sha256) and whole or not
        at all; each payment becomes paid or failed (a failed one is owed again by the next run), and a run whose
        payments are all paid or failed is settled. A file with bad lines fails this step, listing every line."""
        applied, refused, skipped = [], {}, 0
        for path in payments.statement_files():
            data = path.read_bytes()
            try:
                done = payments.import_statement(path.name, data, payments.operator)
            except StatementError as exc:
                refused[path.name] = exc.errors
                continue
            if done.again:
                skipped += 1
            else:
                applied.append([path.name, done.lines, done.applied, ", ".join(map(str, done.settled_runs)) or "-"])
        runs = [[r.id, f"{r.period:%Y-%m}", r.state, r.prepared_by, r.approved_by or ""] for r in payments.runs()]
        metadata = {
            "statements applied": table(["file", "lines", "payments changed", "runs settled"], applied, empty="none"),
            "statements seen before": skipped,
            "runs": table(["run", "month", "state", "prepared by", "approved by"], runs[-50:], empty="none"),
        }
        if refused:
            listing = "\n".join(f"- {name}: {error}" for name, errors in refused.items() for error in errors)
            raise Failure(description=f"{len(refused)} bank statement file(s) refused, nothing of them applied:\n"
                                      f"{listing}",
                          metadata={**metadata, "refused": MetadataValue.md(listing)})
        return MaterializeResult(metadata=metadata)

    return [payment_run, payment_settlements]
