"""Reading the warehouse while the pipeline writes it.

DuckDB lets no other process open the file while a run holds it for writing. The portal therefore opens a
short read-only connection per page, retries for at most RETRY_SECONDS, and then serves the last good result
of that page from memory with an "as of HH:MM" note; with nothing cached yet it raises WarehouseBusy, which
the app turns into a page that refreshes itself. A page computed for a day (its open month, its estimate) is
remembered under the page, not the day: after midnight under a writer it still shows yesterday's numbers as
stale, and it is never served as fresh on another day. A page never waits on the writer for long, and the writer
(which retries with backoff) is never kept out for more than one short read.

The queries reuse onett_domain.statement for every number a statement shows."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import duckdb

from onett_domain.earning import accepted_tokens_through, credited_tokens
from onett_domain.membership import Progress, progress
from onett_domain.money import ratio
from onett_domain.periods import month_bounds, month_of
from onett_domain.policy import Policy
from onett_domain.recitation import incidents_by_contributor, month_incidents
from onett_domain.statement import UnknownContributor, build_statement, estimate_revenue, open_period
from onett_resources.warehouse import SCHEMA

RETRY_SECONDS = 0.75  # then the last good numbers (or "busy"): a page answers within a second under a writer
FRESH_SECONDS = 2.0  # a result this young is served again without opening the file (keeps reads rare)
RECENT_SECONDS = 30.0  # a result this young is served while another page is reading the warehouse
CACHE_ENTRIES = 512


class WarehouseBusy(Exception):
    """The warehouse is being written and this page has no earlier result to show."""


@dataclass(frozen=True)
class Snapshot:
    value: Any
    read_at: datetime  # when these numbers were read
    stale: bool  # True: the warehouse is being written; these are the last good numbers


class WarehouseReader:
    def __init__(self, path: Path, retry_seconds: float = RETRY_SECONDS, fresh_seconds: float = FRESH_SECONDS):
        self.path = Path(path)
        self.retry_seconds, self.fresh_seconds = retry_seconds, fresh_seconds
        self._cache: OrderedDict[tuple, tuple[float, datetime, Any, Any]] = OrderedDict()
        self._cache_lock = threading.Lock()
        # One connection at a time from this process: short windows for the pipeline's writer in between.
        self._open_lock = threading.Lock()
        self._busy_until = 0.0  # after a failed retry loop, later requests go straight to the cache

    def _connect(self) -> duckdb.DuckDBPyConnection | None:
        if not self.path.exists():
            # No warehouse yet (nothing ingested): the same tables, empty, without creating the file.
            conn = duckdb.connect(":memory:")
            conn.execute(SCHEMA)
            return conn
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.05
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=True)
            except duckdb.IOException:
                if time.monotonic() + delay > deadline:
                    return None
                time.sleep(delay)
                delay = min(delay * 2, 0.4)

    def read(self, key: tuple, fn: Callable[[duckdb.DuckDBPyConnection], Any], day: date | None = None) -> Snapshot:
        """The page `key` as `fn` reads it; `day` is the date the page is computed for, when it depends on one."""
        now = time.monotonic()
        with self._cache_lock:
            cached = self._cache.get(key)
        current = cached is not None and cached[3] == day
        if current and now - cached[0] < self.fresh_seconds:
            return Snapshot(cached[2], cached[1], stale=False)
        if current and now - cached[0] < RECENT_SECONDS and self._open_lock.locked():
            # Another page is reading the warehouse this moment: these numbers, seconds old, are served at once
            # rather than queued behind it (under load every page would otherwise wait for every other read).
            return Snapshot(cached[2], cached[1], stale=False)
        conn = None
        if now >= self._busy_until and self._open_lock.acquire(timeout=self.retry_seconds):
            try:
                conn = self._connect()
                if conn is not None:
                    try:
                        value = fn(conn)
                    finally:
                        conn.close()
                    read_at = datetime.now().astimezone()
                    with self._cache_lock:
                        self._cache[key] = (time.monotonic(), read_at, value, day)
                        self._cache.move_to_end(key)
                        while len(self._cache) > CACHE_ENTRIES:
                            self._cache.popitem(last=False)
                    return Snapshot(value, read_at, stale=False)
                self._busy_until = time.monotonic() + 1.0
            finally:
                self._open_lock.release()
        if cached:
            return Snapshot(cached[2], cached[1], stale=True)
        raise WarehouseBusy()


# ---- queries: each takes a read-only connection and returns plain data for one page -------------------

def revenue_months(conn) -> list[date]:
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT date_trunc('month', date)::DATE FROM api_revenue ORDER BY 1").fetchall()]


def daily_revenue(conn, month: date) -> list[dict]:
    start, end = month_bounds(month)
    rows = conn.execute(
        """SELECT date, requests, input_tokens, output_tokens, revenue FROM api_revenue
           WHERE date >= ? AND date < ? ORDER BY date""", [start, end]).fetchall()
    return [{"date": d, "requests": int(q), "input_tokens": int(i), "output_tokens": int(o), "revenue": Decimal(r)}
            for d, q, i, o, r in rows]


def period_summary(conn, month: date) -> dict | None:
    row = conn.execute(
        "SELECT revenue, alpha, pool, allocated, currency, contributors, tokens, closed_at FROM payout_periods WHERE period = ?",
        [month]).fetchone()
    if row is None:
        return None
    keys = ["revenue", "alpha", "pool", "allocated", "currency", "contributors", "tokens", "closed_at"]
    return dict(zip(keys, row))


def contributor_files(conn, contributor_id: str) -> list[dict]:
    """Every file recorded for the contributor, with the tokens accepted from it (own rows only)."""
    rows = conn.execute(
        f"""SELECT s.file, s.period, s.bytes, s.submitted_at, s.status, s.error, s.docs_read, s.docs_skipped,
                  s.mtime_ns, s.notes,
                  coalesce(sum({credited_tokens("d.")}) FILTER (WHERE d.status = 'accepted'), 0)::BIGINT,
                  count(d.position) FILTER (WHERE d.status = 'accepted'), count(d.position), coalesce(s.terms, '')
           FROM uploads s LEFT JOIN documents d
             ON d.contributor_id = s.contributor_id AND d.period = s.period AND d.submitted_at = s.submitted_at
            AND (d.file = s.file OR starts_with(d.file, s.file || '/'))  -- members of an archive
           WHERE s.contributor_id = ?
           GROUP BY ALL ORDER BY s.submitted_at DESC, s.file""",
        [contributor_id]).fetchall()
    keys = ["file", "period", "bytes", "submitted_at", "status", "error", "docs_read", "docs_skipped", "mtime_ns",
            "notes", "accepted_tokens", "accepted_docs", "documents", "terms"]
    return [dict(zip(keys, r)) for r in rows]


def contributor_dashboard(conn, policy: Policy, contributor_id: str, today: date, month: date | None) -> dict:
    """Everything the contributor's landing page shows; `month` picks the revenue month to explain."""
    try:
        statement = build_statement(conn, contributor_id, policy, today)
    except UnknownContributor:
        statement = None
    months = revenue_months(conn)
    upcoming = open_period(conn, today)
    if month is None or month not in months:
        month = max(months) if months else upcoming
    summary = period_summary(conn, month)
    mine = conn.execute(
        "SELECT tokens, ratio, amount, adjustment FROM payouts WHERE period = ? AND contributor_id = ?",
        [month, contributor_id]).fetchone()
    explained = {
        "month": month,
        "closed": summary is not None,
        "summary": summary,
        "mine": dict(zip(["tokens", "ratio", "amount", "adjustment"], mine)) if mine else None,
        "daily": daily_revenue(conn, month),
    }
    if summary is None:  # an open month: what is known so far and the estimate behind the expected payout
        estimate = estimate_revenue(conn, month, today)
        tokens = accepted_tokens_through(conn, month, policy.tz)
        explained["estimate"] = estimate
        explained["share"] = ratio(tokens.get(contributor_id, 0), sum(tokens.values()))
    history_periods = {h["period"] for h in (statement or {}).get("payout_history", [])}
    pools = {p.strftime("%Y-%m"): period_summary(conn, p) for p in
             [date.fromisoformat(h + "-01") for h in history_periods]}
    return {"statement": statement, "months": months, "upcoming": upcoming, "explained": explained, "pools": pools,
            "files": contributor_files(conn, contributor_id),
            "membership": membership_progress(conn, policy.membership_words, contributor_id),
            "recitations": recitations_this_month(conn, contributor_id, today)}


def recitations_this_month(conn, contributor_id: str, today: date) -> dict:
    """How often the contributor's text was recited in the consumer's outputs this month (their own only)."""
    start = month_of(today)
    outputs, spans, latest = month_incidents(conn, contributor_id, start, month_bounds(start)[1])
    return {"month": start, "outputs": outputs, "spans": spans, "latest": latest}


def membership_progress(conn, threshold: int, contributor_id: str) -> Progress:
    """One contributor's words against the 1T Club threshold (no earning documents: none contributed yet)."""
    found = progress(conn, threshold, contributor_id)
    return found[0] if found else Progress(contributor_id, 0, threshold, 0)


def membership_overview(conn, threshold: int) -> list[Progress]:
    """Every contributor's words, most first; contributors known to the warehouse without earning documents
    follow with none, so the operator sees who has not started as well."""
    rows = progress(conn, threshold)
    counted = {p.contributor_id for p in rows}
    return rows + [Progress(c, 0, threshold, 0) for c in known_contributors(conn) if c not in counted]


def closed_months(conn) -> list[date]:
    return [r[0] for r in conn.execute("SELECT period FROM payout_periods ORDER BY 1").fetchall()]


def contributor_period_statement(conn, contributor_id: str, month: date) -> dict | None:
    """One closed month of one contributor, for the printable statement and its CSV; None if not paid then."""
    row = conn.execute(
        """SELECT tokens, ratio, amount, adjustment, currency FROM payouts WHERE period = ? AND contributor_id = ?""",
        [month, contributor_id]).fetchone()
    if row is None:
        return None
    return {"period": month, "tokens": int(row[0]), "ratio": Decimal(row[1]), "amount": Decimal(row[2]),
            "adjustment": Decimal(row[3]), "currency": row[4], "pool": period_summary(conn, month)}


def contributor_history(conn, contributor_id: str) -> list[dict]:
    periods = [r[0] for r in conn.execute(
        "SELECT period FROM payouts WHERE contributor_id = ? ORDER BY period", [contributor_id]).fetchall()]
    return [contributor_period_statement(conn, contributor_id, p) for p in periods]


def known_contributors(conn) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT contributor_id FROM uploads UNION SELECT contributor_id FROM payouts ORDER BY 1").fetchall()]


def operator_overview(conn, policy: Policy, today: date) -> dict:
    contributors = known_contributors(conn)
    tokens_now = accepted_tokens_through(conn, month_of(today), policy.tz)
    total = sum(tokens_now.values())
    files = {c: (int(n), int(r)) for c, n, r in conn.execute(
        "SELECT contributor_id, count(*), count(*) FILTER (WHERE status = 'rejected') FROM uploads GROUP BY 1").fetchall()}
    paid = {c: (Decimal(a), p) for c, a, p in conn.execute(
        "SELECT contributor_id, sum(amount + adjustment), max(period) FROM payouts GROUP BY 1").fetchall()}
    rows = []
    for c in contributors:
        statement = build_statement(conn, c, policy, today)
        rows.append({
            "contributor_id": c,
            "tokens": tokens_now.get(c, 0),
            "ratio": ratio(tokens_now.get(c, 0), total),
            "paid": paid.get(c, (Decimal(0), None))[0],
            "last_period": paid.get(c, (None, None))[1],
            "expected": Decimal(statement["expected_payout"]["amount"]),
            "files": files.get(c, (0, 0))[0],
            "rejected": files.get(c, (0, 0))[1],
        })
    upcoming = open_period(conn, today)
    periods = {p["period"]: p for p in [
        dict(zip(["period", "revenue", "alpha", "pool", "allocated", "contributors", "tokens", "closed_at"], r))
        for r in conn.execute(
            "SELECT period, revenue, alpha, pool, allocated, contributors, tokens, closed_at FROM payout_periods").fetchall()]}
    revenue = {m: (Decimal(r), int(d)) for m, r, d in conn.execute(
        "SELECT date_trunc('month', date)::DATE, sum(revenue), count(*) FROM api_revenue GROUP BY 1").fetchall()}
    first = min([*periods, *revenue, *(r[0] for r in conn.execute(
        "SELECT min(period) FROM uploads WHERE period IS NOT NULL").fetchall() if r[0])], default=month_of(today))
    months, m = [], max(first, policy.first_period)
    while m <= month_of(today):
        months.append({"period": m, "closed": periods.get(m), "revenue": revenue.get(m, (Decimal(0), 0))[0],
                       "days": revenue.get(m, (Decimal(0), 0))[1], "days_in_month": (month_bounds(m)[1] - m).days})
        m = month_bounds(m)[1]
    return {"contributors": rows, "total_tokens": total, "months": list(reversed(months)), "upcoming": upcoming,
            "estimate": estimate_revenue(conn, upcoming, today),
            "recitations": incidents_by_contributor(conn, month_of(today), month_bounds(month_of(today))[1])}


def revenue_files(conn) -> dict[str, dict]:
    """What the warehouse loaded from each revenue file."""
    return {f: {"days": int(n), "first": a, "last": b, "revenue": Decimal(r)} for f, n, a, b, r in conn.execute(
        "SELECT source_file, count(*), min(date), max(date), sum(revenue) FROM api_revenue GROUP BY 1").fetchall()}
