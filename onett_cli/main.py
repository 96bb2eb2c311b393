"""The `onett` command: argument parsing and dispatch. Each command lives in a module of this package and is
imported only when it runs, so `onett account list` does not load Dagster."""

from __future__ import annotations

import argparse
import atexit
import os
import sys
from importlib import import_module

from onett_cli.payments import add_commands as add_payment_commands
from onett_portal.config import DEFAULT_PORT
from onett_resources.settings import SettingsError


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="onett", description="onett: uploads to exact payouts.")
    sub = root.add_subparsers(dest="command", required=True)

    def command(name: str, target: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.set_defaults(target=target)
        return p

    command("ingest", "onett_cli.ingest:cmd_ingest", "process everything new or changed in the landing zone now")
    recitations = command("recitations", "onett_cli.recitations:cmd_recitations",
                          "check the consumer's model output logs of some days for recited contributed text")
    recitations.add_argument("days", nargs="*", help="YYYY-MM-DD (default: yesterday and today)")
    close = command("close", "onett_cli.close:cmd_close", "compute ratios and payouts of a month and print them")
    close.add_argument("month", nargs="?", help="YYYY-MM")
    close.add_argument("--ended", action="store_true", help="close every month that has ended")
    statement = command("statement", "onett_cli.statements:cmd_statement",
                        "a contributor's ratio, tokens, reward, expected payout, funnel")
    statement.add_argument("contributor")
    # --period: the name earlier versions used; still accepted
    statement.add_argument("--month", "--period", dest="month", help="YYYY-MM: that month's numbers")
    statement.add_argument("--json", action="store_true")
    reasons = command("reasons", "onett_cli.statements:cmd_reasons",
                      "a contributor's documents that earn nothing, each with its reason")
    reasons.add_argument("contributor")
    reasons.add_argument("--month", "--period", dest="month", help="YYYY-MM: uploads of that month only")
    reasons.add_argument("--limit", type=int, default=1000)
    reasons.add_argument("--json", action="store_true")
    release = command("release", "onett_cli.releases:cmd_release",
                      "training releases: list them, cut a month's (YYYY-MM), export one")
    release.add_argument("month", nargs="?", help="YYYY-MM: cut (or find) that month's release")
    release.add_argument("--export", metavar="DIR", help="copy the month's latest release into DIR")
    release.add_argument("--cut", action="store_true", help="with --export: cut the release first")
    agreement = command("agreement", "onett_cli.consent:cmd_agreement",
                        "the contributor agreement: publish a version, record an acceptance, show who accepted")
    agreement_actions = agreement.add_subparsers(dest="action", required=True)
    publish = agreement_actions.add_parser("publish", help="publish a new version (text from FILE)")
    publish.add_argument("version")
    publish.add_argument("file")
    publish.add_argument("--by", help="who publishes it (default: your user name)")
    accept = agreement_actions.add_parser("accept", help="record a contributor's acceptance (a signed copy)")
    accept.add_argument("contributor")
    accept.add_argument("--version", help="default: the current version")
    accept.add_argument("--usage", default="pretraining-only",
                        choices=["pretraining-only", "pretraining-and-finetuning"])
    accept.add_argument("--evaluation", action="store_true", help="evaluation use allowed by default")
    accept.add_argument("--by", help="who records it (default: your user name)")
    agreement_actions.add_parser("show", help="the current version and every acceptance")
    erase = command("erase", "onett_cli.consent:cmd_erase",
                    "erase a contributor's file (or everything with --all) from every copy onett holds")
    erase.add_argument("contributor")
    erase.add_argument("file", nargs="?", help="the file's name in the contributor's folder")
    erase.add_argument("--all", action="store_true", help="every upload of the contributor; destroys their key")
    erase.add_argument("--reason", required=True, help="why (kept with the record)")
    erase.add_argument("--by", help="who asks (default: your user name)")
    membership = command("membership", "onett_cli.membership:cmd_membership",
                         "1T Club membership: words contributed, applications, approve or decline")
    membership_actions = membership.add_subparsers(dest="action")
    apply = membership_actions.add_parser("apply", help="apply for a contributor (above the threshold)")
    apply.add_argument("contributor")
    apply.add_argument("--message")
    apply.add_argument("--by", help="who applies (default: your user name)")
    for name in ("approve", "decline"):
        decide = membership_actions.add_parser(name, help=f"{name} an application")
        decide.add_argument("application", type=int)
        decide.add_argument("--reason", required=True, help="why (the contributor sees it)")
        decide.add_argument("--by", help="who decides (default: your user name)")
    dispute = command("dispute", "onett_cli.disputes:cmd_dispute",
                      "disputed statements: list them, show a thread, answer, resolve with or without an adjustment")
    dispute_actions = dispute.add_subparsers(dest="action")
    listing = dispute_actions.add_parser("list", help="open disputes (every one with --all)")
    listing.add_argument("--all", action="store_true")
    show = dispute_actions.add_parser("show", help="a dispute's thread")
    show.add_argument("dispute", type=int)
    answer = dispute_actions.add_parser("answer", help="write to the contributor in a dispute's thread")
    answer.add_argument("dispute", type=int)
    answer.add_argument("--message", required=True)
    answer.add_argument("--by", help="who answers (default: your user name)")
    resolve = dispute_actions.add_parser("resolve", help="close a dispute: no change, or --adjust AMOUNT")
    resolve.add_argument("dispute", type=int)
    resolve.add_argument("--message", required=True, help="the last word (the contributor sees it)")
    resolve.add_argument("--adjust", help="an adjustment in the currency (negative takes back), paid with the next "
                                          "month that closes")
    resolve.add_argument("--by", help="who resolves (default: your user name)")
    add_payment_commands(command)
    credit = command("credit", "onett_cli.credit:cmd_credit", "1T Club API credit: every partner's balance, one "
                     "partner's ledger, or `export MONTH`: the month's billable usage per partner as CSV")
    credit.add_argument("what", nargs="*", metavar="CONTRIBUTOR | export MONTH")
    credit.add_argument("--out", help="with export: write the CSV to this file (default: standard output)")
    credit.add_argument("--json", action="store_true")
    command("verify", "onett_cli.verify:cmd_verify",
            "recompute every closed month and check the archive and Parquet parts against their checksums")
    backup = command("backup", "onett_cli.backup:cmd_backup",
                     "a consistent copy of the platform while it runs, with a manifest of checksums")
    backup.add_argument("dir", help="a new or empty folder")
    backup.add_argument("--keys", metavar="KEYDIR", help="copy the archive and payee keys into this separate folder")
    restore = command("restore", "onett_cli.backup:cmd_restore",
                      "put a backup back into this DAGSTER_HOME after checking it; erased text stays erased")
    restore.add_argument("dir")
    restore.add_argument("--keys", metavar="KEYDIR", help="the keys folder taken with the backup")
    restore.add_argument("--force", action="store_true", help="replace what the platform holds now")
    command("demo", "onett_cli.demo.command:cmd_demo",
            "fill the landing zone, revenue and reference folders with demo data")
    account = command("account", "onett_cli.portal:cmd_account",
                      "portal accounts: add, list or remove (operators create them)")
    actions = account.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add an account; the password is asked for (or read from stdin)")
    add.add_argument("name")
    add.add_argument("--role", choices=["contributor", "operator"], required=True)
    add.add_argument("--contributor", help="contributor id (landing folder) the account sees; default: NAME")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    actions.add_parser("list", help="every account with its role")
    remove = actions.add_parser("remove", help="remove an account and end its sessions")
    remove.add_argument("name")
    portal = command("portal", "onett_cli.portal:cmd_portal", "the contributor and operator web portal")
    portal.add_argument("--host", default="127.0.0.1")
    portal.add_argument("--port", type=int, default=DEFAULT_PORT)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    os.umask(0o077)  # onett_resources.durable.keep_private: everything written is the platform user's alone
    if getattr(args, "contributor", None) is not None:  # one rule everywhere; never echoed raw to a terminal
        import unicodedata

        from onett_domain.uploads import CONTRIBUTOR_ID_RULE, valid_contributor_id

        if not valid_contributor_id(unicodedata.normalize("NFC", args.contributor)):
            print(f"onett: {args.contributor!r} is not a contributor id: {CONTRIBUTOR_ID_RULE}", file=sys.stderr)
            return 2
    module, function = args.target.split(":")
    try:
        return getattr(import_module(module), function)(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`onett statement X | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except SettingsError as exc:  # a malformed setting: one clear line, not a traceback
        print(f"onett: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        full = disk_full(exc)
        if full is None:
            raise
        print(f"onett: the disk is full: {full}. Every run writes in transactions, so nothing was half-written; free "
              "some space and run the command again.", file=sys.stderr)
        return 1


DISK_FULL = ("no space left", "disk is full", "disk i/o error", "database or disk is full", "could not write")


def disk_full(exc: BaseException) -> str | None:
    """What is full, when `exc` (or what caused it) is a write that found no space; None otherwise. SQLite says
    "disk I/O error" and DuckDB "could not write" for what the system calls ENOSPC."""
    import errno
    import shutil

    chain, seen = [], exc
    while seen is not None:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    no_space = any(isinstance(seen, OSError) and seen.errno == errno.ENOSPC for seen in chain)
    for seen in chain:
        if (isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)) or any(
                text in str(seen).lower() for text in DISK_FULL):
            home = os.environ.get("DAGSTER_HOME") or os.getcwd()
            try:
                free = shutil.disk_usage(home).free
            except OSError:
                return f"writing under {home} failed ({seen.__class__.__name__})"
            if free > 64 << 20 and not no_space:
                return None  # plenty of room: some other I/O failure, shown as it is
            return f"{free / (1 << 20):.1f} MB free on the file system of {home}"
    return None


class QuickExit:
    """Ends the process once the exit handlers have run, with the command's exit status, skipping the interpreter's
    own teardown: its last garbage collections walked everything the command had loaded (Dagster's definitions
    first) for about 0.7 s of a core after every command, the last one-core seconds of an ingest. Nothing is left
    to that teardown: every run commits and closes its connections, logging and the process pools shut down in their
    exit handlers, and standard output and error are flushed here. (Freezing the collector instead makes DuckDB's
    binding report every object alive at exit as a leak.)"""

    def __init__(self) -> None:
        self.code = 1  # what Python exits with when an exception escapes, its traceback printed first

    def __call__(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a reader gone, a stream closed: nothing more can be said
                pass
        os._exit(self.code)


def run() -> None:
    """The `onett` executable: `main`, then a quick exit. Tests call `main` itself, in their own process."""
    leave = QuickExit()
    atexit.register(leave)  # registered first, so it runs after every other exit handler
    try:
        leave.code = main() or 0
    except SystemExit as exc:  # argparse's usage errors, a command's own exit
        leave.code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        raise
    except KeyboardInterrupt:
        leave.code = 130
        raise
    sys.exit(leave.code)


if __name__ == "__main__":
    run()
