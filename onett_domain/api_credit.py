"""The 1T Club's API credit: contributed tokens become free API tokens, kept in an append-only ledger.

- **Grant**: each month, a contributor's newly credited tokens x the credit ratio, rounded down to a whole token,
  become one grant (`grant_period`: the month they were credited in). A document is newly credited in the first
  month it earns in (see onett_domain/sql/api_credit_grants.sql): it is granted once, and a later withdrawal,
  erasure or end of its terms never takes the grant back; a text granted once is not granted again to a copy
  that inherits its credit or to a re-upload of it. A grant takes effect on the first day of the next month (when
  the month's contributions are final) and expires `expiry_months` later (0: never).
- **Usage** is drawn day by day against the contributor's grants in effect that day, the one expiring first
  first (never-expiring last), then the earliest effective; usage beyond the credit is billable.
- **Expiry**: what is left of a grant when it expires is written off in the month it expires at the end of.
- **Ledger**: entries per month, contributor and grant; balances are sums of entries, never stored. A month's
  entries are frozen once the month is closed (the first computation after its payouts closed it freezes
  them). A recomputation that would give a frozen month other entries (late usage rows, a rule change) records
  the differences as `correction` entries in the next month that is not frozen; recomputing replaces those
  pending corrections, never doubles them. Computing a month rewrites the entries of every month not frozen up
  to it (and of later ones in the ledger), so the ledger always adds up.
- **Value**: credited usage is free, so it adds nothing to R_API; its value is shown at the month's average
  billed price per token (R_API / billed input and output tokens), rounded down to the currency's minor unit."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import duckdb

from onett_domain import sql
from onett_domain.money import to_major
from onett_domain.periods import month_bounds, month_of, months_between, next_month
from onett_domain.policy import Policy

SQL = Path(__file__).parent / "sql"
KINDS = ("grant", "usage", "billable", "expiry")  # what an entry is, or what a correction corrects
ORDER = {kind: n for n, kind in enumerate(KINDS + ("correction",))}
NEVER = date.max


# ---- the rules, on plain values --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Grant:
    contributor_id: str
    period: date  # the month its tokens were credited in
    tokens: int
    effective_on: date
    expires_on: date | None  # the first day it can no longer be used; None: never

    def live_on(self, day: date) -> bool:
        return self.effective_on <= day and (self.expires_on is None or day < self.expires_on)

    @property
    def draw_order(self) -> tuple:
        return (self.expires_on or NEVER, self.effective_on, self.period)


@dataclass(frozen=True)
class Usage:
    date: date
    contributor_id: str
    tokens: int  # input + output tokens of the day


@dataclass(frozen=True)
class Entry:
    period: date  # the month it belongs to (frozen with it)
    contributor_id: str
    entry: str  # grant | usage | billable | expiry | correction
    grant_period: date | None  # the grant it belongs to or draws on; None for billable usage
    credit: int  # signed change of the balance: grant +, usage -, expiry -
    billable: int = 0  # tokens used beyond the credit
    effective_on: date | None = None  # of its grant
    expires_on: date | None = None  # of its grant
    corrects: str = ""  # a correction: the kind of entry it corrects
    corrects_period: date | None = None  # a correction: the frozen month it corrects
    note: str = ""

    @property
    def kind(self) -> str:
        return self.corrects or self.entry

    @property
    def sort_key(self) -> tuple:
        return (self.period, self.contributor_id, ORDER[self.entry], self.corrects_period or date.min,
                ORDER[self.kind], self.grant_period or NEVER)

    def row(self) -> list:
        return [self.period, self.contributor_id, self.entry, self.grant_period, self.credit, self.billable,
                self.effective_on, self.expires_on, self.corrects, self.corrects_period, self.note]


COLUMNS = ["period", "contributor_id", "entry", "grant_period", "credit", "billable", "effective_on", "expires_on",
           "corrects", "corrects_period", "note"]


def grant_tokens(tokens: int, ratio: Decimal) -> int:
    """Credited tokens x the credit ratio, rounded down: a grant is a whole number of API tokens."""
    return int((Decimal(tokens) * ratio).to_integral_value(rounding=ROUND_DOWN))


def add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    return day.replace(year=day.year + year, month=month + 1)


def make_grants(credited: list[tuple[str, date, int]], ratio: Decimal, expiry_months: int) -> list[Grant]:
    """One grant per (contributor, month, newly credited tokens); a grant of zero tokens is none."""
    grants = []
    for contributor_id, period, tokens in credited:
        amount = grant_tokens(tokens, ratio)
        if amount > 0:
            effective = next_month(period)
            grants.append(Grant(contributor_id, period, amount, effective,
                                add_months(effective, expiry_months) if expiry_months else None))
    return sorted(grants, key=lambda g: (g.contributor_id, g.period))


def simulate(grants: list[Grant], usage: list[Usage], months: list[date]) -> dict[date, list[Entry]]:
    """The entries of each month, computed from the first month on: what the ledger holds when nothing is frozen."""
    balance: dict[tuple[str, date], int] = {}
    mine: dict[str, list[Grant]] = defaultdict(list)
    for g in sorted(grants, key=lambda g: g.draw_order):
        mine[g.contributor_id].append(g)
    by_month: dict[date, list[Usage]] = defaultdict(list)
    for u in usage:
        by_month[month_of(u.date)].append(u)
    ledger: dict[date, list[Entry]] = {}
    for month in months:
        entries: list[Entry] = []
        drawn: dict[tuple[str, Grant], int] = defaultdict(int)
        billable: dict[str, int] = defaultdict(int)
        for u in sorted(by_month.get(month, []), key=lambda u: (u.date, u.contributor_id)):
            left = u.tokens
            for g in mine.get(u.contributor_id, []):
                key = (g.contributor_id, g.period)
                if left == 0:
                    break
                if g.live_on(u.date) and balance.get(key, 0) > 0:
                    take = min(left, balance[key])
                    balance[key] -= take
                    drawn[(u.contributor_id, g)] += take
                    left -= take
            billable[u.contributor_id] += left
        entries += [Entry(month, c, "usage", g.period, -n, 0, g.effective_on, g.expires_on)
                    for (c, g), n in drawn.items()]
        entries += [Entry(month, c, "billable", None, 0, n) for c, n in billable.items() if n]
        for g in grants:
            if g.period == month:
                balance[(g.contributor_id, g.period)] = g.tokens
                entries.append(Entry(month, g.contributor_id, "grant", g.period, g.tokens, 0, g.effective_on,
                                     g.expires_on, note=f"tokens credited in {g.period:%Y-%m}"))
        for g in grants:
            key = (g.contributor_id, g.period)
            if g.expires_on is not None and g.expires_on <= next_month(month) and balance.get(key, 0) > 0:
                entries.append(Entry(month, g.contributor_id, "expiry", g.period, -balance[key], 0, g.effective_on,
                                     g.expires_on, note=f"unused on {g.expires_on}"))
                balance[key] = 0
        ledger[month] = sorted(entries, key=lambda e: e.sort_key)
    return ledger


def corrections(ideal: list[Entry], recorded: list[Entry], frozen: date, into: date) -> list[Entry]:
    """What a frozen month's entries would be now minus what was recorded for it (its own entries and the
    corrections already frozen), per contributor, kind and grant: the correction entries to record in `into`."""
    totals: dict[tuple, list] = {}
    for sign, entries in ((1, ideal), (-1, recorded)):
        for e in entries:
            key = (e.contributor_id, e.kind, e.grant_period)
            t = totals.setdefault(key, [0, 0, e.effective_on, e.expires_on])
            t[0] += sign * e.credit
            t[1] += sign * e.billable
    out = [Entry(into, c, "correction", grant_period, credit, billable, effective, expires, kind, frozen,
                 f"{frozen:%Y-%m} is frozen; recomputed now its {kind} differs")
           for (c, kind, grant_period), (credit, billable, effective, expires) in totals.items() if credit or billable]
    return sorted(out, key=lambda e: e.sort_key)


@dataclass
class Summary:
    """One contributor's ledger summed: corrections are counted apart, so that
    granted - used - expired + corrections = balance can be checked."""

    contributor_id: str
    granted: int = 0
    used: int = 0
    expired: int = 0
    billable: int = 0
    corrections: int = 0  # net change of the balance by corrections
    billable_corrections: int = 0
    balance: int = 0

    def add(self, e: Entry) -> None:
        self.balance += e.credit
        if e.entry == "correction":
            self.corrections += e.credit
            self.billable_corrections += e.billable
        elif e.entry == "grant":
            self.granted += e.credit
        elif e.entry == "usage":
            self.used -= e.credit
        elif e.entry == "expiry":
            self.expired -= e.credit
        elif e.entry == "billable":
            self.billable += e.billable

    @property
    def adds_up(self) -> bool:
        return self.granted - self.used - self.expired + self.corrections == self.balance


def summarize(entries: list[Entry]) -> dict[str, Summary]:
    out: dict[str, Summary] = {}
    for e in entries:
        out.setdefault(e.contributor_id, Summary(e.contributor_id)).add(e)
    return dict(sorted(out.items()))


def grant_balances(entries: list[Entry]) -> dict[tuple[str, date], int]:
    """What is left of each grant (contributor, grant month) after the given entries."""
    left: dict[tuple[str, date], int] = defaultdict(int)
    for e in entries:
        if e.grant_period is not None:
            left[(e.contributor_id, e.grant_period)] += e.credit
    return dict(left)


def overdrawn(entries: list[Entry]) -> list[tuple[str, date, date, int]]:
    """(contributor, grant month, month, balance) wherever a grant's balance at the end of a month is negative."""
    wrong, left = [], defaultdict(int)
    for month, group in _by_period(entries):
        touched = set()
        for e in group:
            if e.grant_period is not None:
                left[(e.contributor_id, e.grant_period)] += e.credit
                touched.add((e.contributor_id, e.grant_period))
        wrong += [(c, g, month, left[(c, g)]) for c, g in sorted(touched) if left[(c, g)] < 0]
    return wrong


def wrong_signs(entries: list[Entry]) -> list[Entry]:
    """Entries whose sign contradicts their kind (a grant takes, usage gives back...)."""
    bad = {"grant": lambda e: e.credit <= 0 or e.billable, "usage": lambda e: e.credit >= 0 or e.billable,
           "expiry": lambda e: e.credit >= 0 or e.billable, "billable": lambda e: e.credit or e.billable <= 0,
           "correction": lambda e: e.corrects not in KINDS or e.corrects_period is None}
    return [e for e in entries if e.entry not in bad or bad[e.entry](e)]


def _by_period(entries: list[Entry]):
    groups: dict[date, list[Entry]] = defaultdict(list)
    for e in entries:
        groups[e.period].append(e)
    return sorted(groups.items())


# ---- value of credit used ----------------------------------------------------------------------------------------
def price_per_token(revenue: Decimal, billed_tokens: int) -> Decimal | None:
    """The month's average billed price of one API token (input or output); None without billed tokens."""
    return Decimal(revenue) / billed_tokens if billed_tokens else None


def credit_value(used: int, revenue: Decimal, billed_tokens: int, digits: int) -> Decimal | None:
    """What `used` credited tokens would have been billed at the month's average price, rounded down to the
    currency's minor unit; None when the month has no billed tokens (no price)."""
    if not billed_tokens:
        return None
    minor = (Decimal(used) * Decimal(revenue) * (Decimal(10) ** digits) / billed_tokens).to_integral_value(
        rounding=ROUND_DOWN)
    return to_major(int(minor), digits)


# ---- the usage feed ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UsageRow:
    date: date
    contributor_id: str
    api_key: str  # '' when the feed names the contributor
    input_tokens: int
    output_tokens: int
    source: str  # file and line

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def contributor_id(text: str) -> str:
    """Contributor ids are compared in Unicode NFC, as landing folders are."""
    return unicodedata.normalize("NFC", text.strip())


def known_contributors(conn: duckdb.DuckDBPyConnection) -> set[str]:
    """Who the platform knows: anyone with an upload or a payout."""
    return {c for (c,) in conn.execute(
        "SELECT contributor_id FROM uploads UNION SELECT contributor_id FROM payouts").fetchall()}


def unknown_contributor_errors(rows: list[UsageRow], known: set[str]) -> list[str]:
    return [f"{r.source}: contributor {r.contributor_id!r} is not known to the platform (no uploads or payouts)"
            for r in rows if r.contributor_id not in known]


# ---- the warehouse ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CreditRules:
    ratio: Decimal  # API tokens granted per credited token
    expiry_months: int  # 0: never


@dataclass
class Settlement:
    period: date  # the month asked for
    written: list[date]  # months whose entries were (re)written
    frozen_now: list[date]  # months frozen by this computation
    frozen: bool  # the month asked for was frozen before
    entries: list[Entry] = field(default_factory=list)  # the month's entries as stored now
    corrections: list[Entry] = field(default_factory=list)  # recorded by this computation


def stored_entries(conn: duckdb.DuckDBPyConnection, contributor: str | None = None) -> list[Entry]:
    rows = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM api_credit_ledger WHERE $c IS NULL OR contributor_id = $c",
        {"c": contributor}).fetchall()
    return sorted((Entry(*r) for r in rows), key=lambda e: e.sort_key)


def frozen_months(conn: duckdb.DuckDBPyConnection) -> set[date]:
    return {p for (p,) in conn.execute(
        "SELECT m.period FROM api_credit_months m JOIN payout_periods p USING (period) "
        "WHERE m.frozen_at IS NOT NULL").fetchall()}


def credited(conn: duckdb.DuckDBPyConnection, through: date, policy: Policy) -> list[tuple[str, date, int]]:
    """(contributor, month, newly credited tokens) for every month up to `through`."""
    return [(c, m, int(t)) for c, m, t in sql.execute(
        conn, sql.load(SQL, "api_credit_grants"), {"tz": policy.timezone, "through": through})]


def daily_usage(conn: duckdb.DuckDBPyConnection, before: date) -> list[Usage]:
    return [Usage(d, c, int(t)) for d, c, t in conn.execute(
        "SELECT date, contributor_id, sum(input_tokens + output_tokens)::BIGINT FROM api_usage WHERE date < ? "
        "GROUP BY ALL ORDER BY ALL", [before]).fetchall()]


def settle(conn: duckdb.DuckDBPyConnection, period: date, policy: Policy, rules: CreditRules,
           now: datetime) -> Settlement:
    """Computes the ledger and stores the entries of every month not frozen up to `period` (or, for a frozen
    month, up to the next month that is not), freezing those that are closed, with the corrections of frozen
    months. Call inside a transaction."""
    closed = {p for (p,) in conn.execute("SELECT period FROM payout_periods").fetchall()}
    frozen = frozen_months(conn)
    stored = stored_entries(conn)

    def next_open(month: date) -> date:
        month = next_month(month)
        while month in frozen:
            month = next_month(month)
        return month

    target = next_open(period) if period in frozen else period
    later = [e.period for e in stored if e.period > target and e.period not in frozen]
    through = max([target, *later])
    grants = make_grants(credited(conn, through, policy), rules.ratio, rules.expiry_months)
    usage = daily_usage(conn, next_month(through))
    start = min([through, *(g.period for g in grants), *(month_of(u.date) for u in usage),
                 *(e.period for e in stored)])
    months = months_between(start, through)
    ideal = simulate(grants, usage, months)
    written = [m for m in months if m not in frozen]

    pending: dict[date, list[Entry]] = defaultdict(list)
    for q in (m for m in months if m in frozen):
        into = next_open(q)
        if into > through:
            continue
        recorded = [e for e in stored if (e.period == q and e.entry != "correction")
                    or (e.corrects_period == q and e.period not in written)]
        pending[into] += corrections(ideal[q], recorded, q, into)

    for m in written:
        conn.execute("DELETE FROM api_credit_ledger WHERE period = ?", [m])
        sql.insert_rows(conn, f"INSERT INTO api_credit_ledger ({', '.join(COLUMNS)}) VALUES "
                              f"({', '.join('?' for _ in COLUMNS)})",
                        [e.row() for e in sorted(ideal[m] + pending[m], key=lambda e: e.sort_key)])
        conn.execute("DELETE FROM api_credit_months WHERE period = ?", [m])
        conn.execute("INSERT INTO api_credit_months VALUES (?, ?, ?)", [m, now, now if m in closed else None])
    entries = [e for e in stored_entries(conn) if e.period == period]
    return Settlement(period, written, [m for m in written if m in closed], period in frozen, entries,
                      [e for m in written for e in pending[m]])


def month_prices(conn: duckdb.DuckDBPyConnection) -> dict[date, tuple[Decimal, int]]:
    """(R_API, billed input + output tokens) per month of the consumer's revenue feed."""
    return {m: (Decimal(r), int(t)) for m, r, t in conn.execute(
        "SELECT date_trunc('month', date)::DATE, sum(revenue), sum(input_tokens + output_tokens)::BIGINT "
        "FROM api_revenue GROUP BY 1 ORDER BY 1").fetchall()}


def ledger_rows(entries: list[Entry]) -> list[list]:
    """Entries with the running balance after each, as shown to people (oldest first)."""
    out, balance = [], 0
    for e in entries:
        balance += e.credit
        out.append([e.period.strftime("%Y-%m"), e.entry, e.corrects, e.grant_period.strftime("%Y-%m")
                    if e.grant_period else "", e.credit, e.billable, e.expires_on.isoformat() if e.expires_on else "",
                    balance, e.note])
    return out


def month_usage(entries: list[Entry]) -> dict[date, tuple[int, int]]:
    """(credited, billable) usage per month the usage happened in (corrections count for the month they correct)."""
    out: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for e in entries:
        month = e.corrects_period or e.period
        if e.kind == "usage":
            out[month][0] -= e.credit
        elif e.kind == "billable":
            out[month][1] += e.billable
    return {m: (u, b) for m, (u, b) in sorted(out.items())}


def billable_export(conn: duckdb.DuckDBPyConnection, month: date, policy: Policy) -> list[dict]:
    """Per partner for `month`: tokens used, covered by credit, billable (the month's entries and the corrections
    recorded in it for frozen months), and the value of the credited usage; the operator bills the billable."""
    start, end = month_bounds(month)
    used = dict(conn.execute(
        "SELECT contributor_id, sum(input_tokens + output_tokens)::BIGINT FROM api_usage WHERE date >= ? AND "
        "date < ? GROUP BY 1", [start, end]).fetchall())
    entries = [e for e in stored_entries(conn) if e.period == month]
    revenue, billed = month_prices(conn).get(month, (Decimal(0), 0))
    out = []
    for c in sorted(set(used) | {e.contributor_id for e in entries if e.entry in ("usage", "billable", "correction")}):
        mine = [e for e in entries if e.contributor_id == c]
        credited_now = -sum(e.credit for e in mine if e.entry == "usage")
        billable_now = sum(e.billable for e in mine if e.entry == "billable")
        corrected = sum(e.billable for e in mine if e.entry == "correction")
        value = credit_value(credited_now, revenue, billed, policy.digits)
        out.append({"period": month.strftime("%Y-%m"), "contributor_id": c, "used_tokens": int(used.get(c, 0)),
                    "credited_tokens": credited_now, "billable_tokens": billable_now,
                    "billable_corrections": corrected, "credit_value": value, "currency": policy.currency})
    return out


def credit_section(conn: duckdb.DuckDBPyConnection, contributor: str, policy: Policy) -> dict:
    """A contributor's credit for the statement and the portal: totals, what is left of each grant, what expires
    next, and per month the usage covered by credit with its value (at the month's average billed price)."""
    entries = stored_entries(conn, contributor)
    total = summarize(entries).get(contributor, Summary(contributor))
    grants = {e.grant_period: e for e in entries if e.entry == "grant"}
    left = grant_balances(entries)
    open_grants = sorted(((grants[g].expires_on or NEVER, g, n) for (c, g), n in left.items() if n > 0 and g in grants))
    expiring = next(((x, g, n) for x, g, n in open_grants if x != NEVER), None)
    prices = month_prices(conn)
    months = []
    for month, (credited_tokens, billable) in month_usage(entries).items():
        revenue, billed = prices.get(month, (Decimal(0), 0))
        value = credit_value(credited_tokens, revenue, billed, policy.digits)
        months.append({"period": month.strftime("%Y-%m"), "credited_tokens": credited_tokens,
                       "billable_tokens": billable, "value": str(value) if value is not None else None})
    values = [Decimal(m["value"]) for m in months if m["value"] is not None]
    return {
        "granted": total.granted + sum(e.credit for e in entries if e.kind == "grant" and e.entry == "correction"),
        "used": total.used - sum(e.credit for e in entries if e.kind == "usage" and e.entry == "correction"),
        "expired": total.expired - sum(e.credit for e in entries if e.kind == "expiry" and e.entry == "correction"),
        "billable": total.billable + total.billable_corrections,
        "left": total.balance,
        "currency": policy.currency,
        "value_used": str(sum(values, Decimal(0))),
        "expiring_next": {"tokens": expiring[2], "on": expiring[0].isoformat(), "grant": expiring[1].strftime("%Y-%m")}
        if expiring else None,
        "grants": [{"grant": g.strftime("%Y-%m"), "tokens": grants[g].credit, "left": n,
                    "effective_on": grants[g].effective_on.isoformat(),
                    "expires_on": x.isoformat() if x != NEVER else None} for x, g, n in open_grants],
        "months": months,
    }


EXPORT_HEADER = ["period", "contributor_id", "used_tokens", "credited_tokens", "billable_tokens",
                 "billable_corrections", "credit_value", "currency"]


def export_csv(rows: list[dict]) -> str:
    """The billable export as CSV; a cell starting with = + - @ is kept from reading as a spreadsheet formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_HEADER)
    for r in rows:
        writer.writerow([_cell(r[k]) for k in EXPORT_HEADER])
    return buffer.getvalue()


def ledger_csv(entries: list[Entry]) -> str:
    """A contributor's ledger as CSV, with the running balance after each entry."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["month", "entry", "corrects", "grant", "credit", "billable", "expires_on", "balance", "note"])
    writer.writerows([[_cell(v) for v in row] for row in ledger_rows(entries)])
    return buffer.getvalue()


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "@", "\t", "\r") or (text[:1] == "-" and not text[1:2].isdigit()) \
        else text
