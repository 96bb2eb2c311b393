"""`onett payments` and `onett payee`: payment runs from a closed month to money paid, and confirming payees'
bank details. The register enforces every rule (closed month, two people, approved before export); this module
only parses, calls it and prints. Heavy imports wait until a command runs, so registering the commands is cheap."""

from __future__ import annotations

import getpass
import os
import tempfile
from pathlib import Path


def add_commands(command) -> None:
    """The `payments` and `payee` commands, added with the main parser's `command(name, target, help)`."""
    payments = command("payments", "onett_cli.payments:cmd_payments",
                       "payment runs: prepare a closed month, approve, export the bank file, import the statement")
    actions = payments.add_subparsers(dest="action", required=True)
    prepare = actions.add_parser("prepare", help="prepare the payment run of a closed month (YYYY-MM)")
    prepare.add_argument("month")
    for name, text in (("approve", "approve a run (not the operator who prepared it)"),
                       ("cancel", "cancel a run before it is exported")):
        action = actions.add_parser(name, help=text)
        action.add_argument("run", type=int)
    export = actions.add_parser("export", help="write an approved run's payment file")
    export.add_argument("run", type=int)
    export.add_argument("--format", choices=["pain001", "csv"], default="pain001")
    export.add_argument("--out", required=True, help="the file to write")
    imported = actions.add_parser("import", help="apply a bank statement CSV (all lines or none)")
    imported.add_argument("file")
    show = actions.add_parser("show", help="every run, or one run's payments")
    show.add_argument("run", type=int, nargs="?")
    audit = actions.add_parser("audit", help="the audit trail: who did what, when")
    audit.add_argument("run", type=int, nargs="?")
    for action in (prepare, *(actions.choices[n] for n in ("approve", "cancel")), export, imported):
        action.add_argument("--as", dest="by", help="the operator acting (default: your user name)")
    payee = command("payee", "onett_cli.payments:cmd_payee", "payees' bank details: list them, confirm them")
    payee_actions = payee.add_subparsers(dest="action", required=True)
    confirm = payee_actions.add_parser("confirm", help="confirm a contributor's bank details after checking them")
    confirm.add_argument("contributor")
    confirm.add_argument("--as", dest="by", help="the operator confirming (default: your user name)")
    payee_actions.add_parser("list", help="every payee, masked account and confirmation")


def _by(args) -> str:
    return getattr(args, "by", None) or getpass.getuser()


def cmd_payments(args) -> int:
    from onett_cli.session import Session, failure, say
    from onett_domain.payments import StatementError
    from onett_domain.periods import parse_month
    from onett_resources.payments import PaymentError

    s = Session()
    register = s.resources["payments"]
    try:
        if args.action == "prepare":
            try:
                month = parse_month(args.month)
            except ValueError as exc:
                raise SystemExit(f"onett: {exc}") from None
            active = register.active_run(month)
            if active is not None:
                say(f"onett payments: {month:%Y-%m} has run {active.id} {active.state} already")
                return 1
            result = s.run("prepare_payment_run", partition_key=month.isoformat(), tags={"onett/operator": _by(args)})
            if not result.success:
                say(f"onett payments: {failure(result)}")
                return 1
            _show_run(say, register, register.active_run(month).id)
        elif args.action == "approve":
            run = register.approve(args.run, _by(args))
            say(f"run {run.id} ({run.period:%Y-%m}) {run.state}: prepared by {run.prepared_by}, approved by "
                f"{run.approved_by}")
        elif args.action == "cancel":
            run = register.cancel(args.run, _by(args))
            say(f"run {run.id} ({run.period:%Y-%m}) cancelled by {run.cancelled_by}; what it would have paid is owed "
                "by the next run")
        elif args.action == "export":
            data = register.export(args.run, args.format, _by(args))
            _write(Path(args.out), data)
            paying = [i for i in register.items(args.run) if i.end_to_end_id]
            say(f"run {args.run}: {len(paying)} payment(s), {register.money(sum(i.amount for i in paying))}, "
                f"written to {args.out} ({args.format}" + (", valid against the pain.001.001.09 XSD)"
                                                            if args.format == "pain001" else ")"))
        elif args.action == "import":
            path = Path(args.file)
            done = register.import_statement(path.name, path.read_bytes(), _by(args))
            if done.again:
                say(f"{path.name} was imported before (sha256 {done.sha256[:12]}): nothing to do")
            else:
                say(f"{path.name}: {done.lines} line(s), {done.applied} payment(s) updated"
                    + (f"; run(s) settled: {', '.join(map(str, done.settled_runs))}" if done.settled_runs else ""))
        elif args.action == "show":
            if args.run is None:
                _show_runs(say, register)
            else:
                _show_run(say, register, args.run)
        elif args.action == "audit":
            from onett_cli.tables import text_table

            say(text_table(["when", "who", "what", "run", "contributor", "end-to-end id", "detail"],
                           [[a[0][:19], *(v if v is not None else "" for v in a[1:])] for a in register.audit(args.run)]))
    except StatementError as exc:
        say(f"onett payments: {args.file}: nothing applied, fix these lines and import it again:")
        for error in exc.errors:
            say(f"  {error}")
        return 1
    except (PaymentError, OSError) as exc:
        say(f"onett payments: {exc}")
        return 1
    return 0


def cmd_payee(args) -> int:
    from onett_cli.session import Session, say
    from onett_cli.tables import text_table
    from onett_resources.payments import PaymentError

    register = Session().resources["payments"]
    try:
        if args.action == "confirm":
            payee = register.confirm(args.contributor, _by(args))
            say(f"{payee.contributor_id}: account {payee.masked} confirmed by {payee.confirmed_by}")
        else:
            say(text_table(["contributor", "account", "entered", "confirmed"],
                           [[p.contributor_id, p.masked, f"{p.entered_at:%Y-%m-%d} by {p.entered_by}",
                             f"{p.confirmed_at:%Y-%m-%d} by {p.confirmed_by}" if p.confirmed else "no"]
                            for p in register.payees()]))
    except PaymentError as exc:
        say(f"onett payee: {exc}")
        return 1
    return 0


def _write(path: Path, data: bytes) -> None:
    """Written whole or not at all: a bank never receives half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _show_runs(say, register) -> None:
    from onett_cli.tables import text_table

    rows = []
    for run in register.runs():
        items = register.items(run.id)
        paying = [i for i in items if i.end_to_end_id]
        rows.append([run.id, f"{run.period:%Y-%m}", run.state, len(paying),
                     register.money(sum(i.amount for i in paying)), sum(i.status == "carried" for i in items),
                     sum(i.status == "held" for i in items), run.prepared_by, run.approved_by or ""])
    say(text_table(["run", "month", "state", "payments", "amount", "carried", "held", "prepared by", "approved by"],
                   rows) if rows else "no payment run yet")


def _show_run(say, register, run_id: int) -> None:
    from onett_cli.tables import text_table

    run, items = register.run(run_id), register.items(run_id)
    masked = {p.contributor_id: p.masked for p in register.payees()}
    say(f"run {run.id}, {run.period:%Y-%m}: {run.state}; prepared by {run.prepared_by}"
        + (f", approved by {run.approved_by}" if run.approved_by else ", waiting for another operator's approval"))
    say(text_table(["contributor", "amount", "status", "end-to-end id", "account", "booked", "reason"],
                   [[i.contributor_id, register.money(i.amount), i.status, i.end_to_end_id or "",
                     masked.get(i.contributor_id, ""), i.booked_on or "", i.reason] for i in items]))
