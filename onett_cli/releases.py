"""`onett release`: the training releases for the data consumer: list them, cut a month's, export one."""

from __future__ import annotations

from pathlib import Path

from onett_cli.session import Session, failure, say
from onett_cli.tables import text_table
from onett_domain.periods import parse_month
from onett_resources.release_store import ReleaseError


def cmd_release(args) -> int:
    s = Session()
    store = s.resources["release_store"]
    if args.month is None:
        manifests = store.manifests()
        if not manifests:
            say("no releases yet: `onett release YYYY-MM` cuts one for a closed month")
            return 0
        say(text_table(["release", "month", "documents", "tokens", "shards", "MB", "removed", "cut at"],
                       [[m["release_id"], m["period"], f"{m['documents']:,}", f"{m['tokens']:,}", len(m["shards"]),
                         f"{m['bytes'] / 1e6:,.1f}", sum(len(v) for k, v in m["removed"].items() if k != "since"),
                         m["created_at"]] for m in manifests]))
        return 0
    try:
        month = parse_month(args.month)
    except ValueError as exc:
        raise SystemExit(f"onett: {exc}") from None
    if not args.export or args.cut:
        result = s.run("cut_release", month.isoformat())
        if not result.success:
            say(f"release {month:%Y-%m}: FAILED {failure(result)}")
            return 1
    mine = [m for m in store.manifests() if m["period"] == f"{month:%Y-%m}"]
    if not mine:
        say(f"no release of {month:%Y-%m}")
        return 1
    manifest = mine[-1]
    _print(store, manifest)
    if args.export:
        try:
            target = store.export(manifest["release_id"], Path(args.export))
        except ReleaseError as exc:
            say(f"export: {exc}")
            return 1
        say(f"exported to {target} (every shard checked against its sha256)")
    return 0


def _print(store, m: dict) -> None:
    say(f"{m['release_id']}: {m['documents']:,} documents, {m['tokens']:,} tokens in {len(m['shards'])} shard(s), "
        f"{m['bytes'] / 1e6:,.1f} MB; {store.root / m['release_id']}")
    say(text_table(["contributor", "documents", "tokens", "terms"],
                   [[c["contributor_id"], f"{c['documents']:,}", f"{c['tokens']:,}",
                     "; ".join(_terms(t) for t in c["terms"])] for c in m["contributors"]]))
    removed = {k: v for k, v in m["removed"].items() if k != "since" and v}
    if removed:
        say(f"removed since {m['removed']['since']}: "
            + ", ".join(f"{len(v):,} {k.replace('_', ' ')}" for k, v in removed.items())
            + " (document ids in manifest.json)")
    for d in m.get("ratios_difference", []):
        say(f"note: {d['contributor_id']} holds {d['released_tokens']:,} tokens here and {d['ratio_tokens']:,} in "
            "the month's contribution ratios (changed since the month was computed)")


def _terms(t: dict) -> str:
    text = t["usage"] + (", evaluation" if t["evaluation_allowed"] else "")
    return text + (f", until {t['expires']}" if t.get("expires") else "") + f" ({t['tokens']:,} tokens)"
