"""`onett account` and `onett portal`: operator-made portal accounts and the web server."""

from __future__ import annotations

import getpass
import sys

from onett_cli.session import prepare_home, say
from onett_portal.auth import AccountError, add_account, normalize_name
from onett_portal.config import load_portal_settings
from onett_portal.store import PortalStore


def cmd_account(args) -> int:
    prepare_home()
    store = PortalStore(load_portal_settings().database)
    if args.action == "list":
        for a in store.accounts():
            say(f"{a.name}\t{a.role}\t{a.contributor_id or '(all contributors)'}\tcreated {a.created_at}")
        return 0
    if args.action == "remove":
        if not store.remove_account(normalize_name(args.name)):
            print(f"onett: no account {args.name!r}", file=sys.stderr)
            return 2
        say(f"removed account {args.name} and its sessions")
        return 0
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if password != getpass.getpass("the same password again: "):
            print("onett: the two passwords differ", file=sys.stderr)
            return 2
    try:
        account = add_account(store, args.name, args.role, password, args.contributor)
    except AccountError as exc:
        print(f"onett: {exc}", file=sys.stderr)
        return 2
    sees = f"contributor {account.contributor_id}" if account.contributor_id else "every contributor"
    say(f"added {account.role} account {account.name} (sees {sees})")
    return 0


def cmd_portal(args) -> int:
    import uvicorn

    from onett_portal.app import create_app
    from onett_resources import Warehouse, load_settings

    prepare_home()
    settings = load_settings()
    Warehouse(database=str(settings.warehouse)).migrate()
    app = create_app(settings)
    say(f"onett portal on http://{args.host}:{args.port}  "
        "(accounts: onett account add NAME --role contributor|operator)")
    # A client's address (the sign-in throttle's key) comes from the connection, unless the operator names the
    # reverse proxies whose X-Forwarded-For is to be believed: uvicorn would otherwise believe any local client.
    proxies = load_portal_settings().trusted_proxies
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False,
                proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None)
    return 0
