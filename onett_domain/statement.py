"""A contributor's statement: what the paper's landing page shows, from the warehouse alone."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

import duckdb

from onett_domain.earning import CREDITED_TOKENS, EARNING, accepted_tokens_through, credited_tokens
from onett_domain.funnel import DESCRIPTIONS, KNOWN_TEXT, KNOWN_TEXT_RULES, contributor_funnel, funnel_rows
from onett_domain.api_credit import credit_section
from onett_domain.membership import Progress, progress
from onett_domain.money import ratio
from onett_domain.periods import month_bounds, month_of, next_month
from onett_domain.policy import Policy

ESTIMATE_LOOKBACK_DAYS = 30


class UnknownContributor(LookupError):
    pass


def open_period(conn: duckdb.DuckDBPyConnection, today: date) -> date:
    """The month whose payout comes next: the one after the last closed month (never after this month)."""
    last_closed = conn.execute("SELECT max(period) FROM payout_periods").fetchone()[0]
    if last_closed is not None:
        return min(next_month(last_closed), month_of(today))
    first = conn.execute(
        "SELECT min(p) FROM (SELECT min(period) p FROM documents UNION ALL SELECT min(date_trunc('month', date))::DATE FROM api_revenue)"
    ).fetchone()[0]
    return month_of(first) if first is not None else month_of(today)


def estimate_revenue(conn: duckdb.DuckDBPyConnection, period: date, today: date) -> dict:
    """Revenue of `period` so far plus the daily average since the last payout date for the days still to come.
    Before any revenue of the period is reported, the average of the last 30 reported days is used."""
    start, end = month_bounds(period)
    days_in_month = (end - start).days
    so_far, observed = conn.execute(
        "SELECT coalesce(sum(revenue), 0), count(*) FROM api_revenue WHERE date >= ? AND date < ?", [start, end]
    ).fetchone()
    so_far = Decimal(so_far)
    if observed:
        daily, basis = so_far / observed, f"average of {observed} reported day(s) since {start}"
    else:
        total, days = conn.execute(
            """SELECT coalesce(sum(revenue), 0), count(*) FROM api_revenue
               WHERE date < ? AND date >= ?""",
            [start, start - timedelta(days=ESTIMATE_LOOKBACK_DAYS)],
        ).fetchone()
        daily = Decimal(total) / days if days else Decimal(0)
        basis = f"average of the last {days} reported day(s) before {start}" if days else "no revenue reported yet"
    estimated = so_far + daily * (days_in_month - observed)
    return {
        "revenue_so_far": so_far,
        "days_reported": observed,
        "days_in_month": days_in_month,
        "daily_average": daily,
        "estimated_revenue": estimated,
        "basis": basis,
    }


def build_statement(conn: duckdb.DuckDBPyConnection, contributor_id: str, policy: Policy, today: date,
                    period: date | None = None) -> dict:
    known = conn.execute(
        "SELECT count(*) FROM (SELECT contributor_id FROM uploads WHERE contributor_id = $c "
        "UNION ALL SELECT contributor_id FROM payouts WHERE contributor_id = $c)",
        {"c": contributor_id},
    ).fetchone()[0]
    if not known:
        raise UnknownContributor(f"no uploads or payouts for contributor {contributor_id!r}")
    digits, currency, alpha = policy.digits, policy.currency, policy.alpha
    quantum = Decimal(1).scaleb(-digits)

    upcoming = open_period(conn, today)
    as_of = period or month_of(today)
    tokens = accepted_tokens_through(conn, as_of, policy.tz, policy.members)
    mine, total = tokens.get(contributor_id, 0), sum(tokens.values())

    history = conn.execute(
        """SELECT period, tokens, ratio, amount + adjustment, adjustment FROM payouts WHERE contributor_id = ?
           ORDER BY period""",
        [contributor_id],
    ).fetchall()
    paid_periods = {p for p, *_ in history}
    reward = sum((Decimal(a) for p, _, _, a, _ in history if period is None or p <= period), Decimal(0))
    pending = conn.execute(
        """SELECT period, amount, reason FROM payout_adjustments WHERE contributor_id = ? AND applied_in IS NULL
           ORDER BY period""",
        [contributor_id],
    ).fetchall()

    estimate = estimate_revenue(conn, upcoming, today)
    upcoming_tokens = accepted_tokens_through(conn, upcoming, policy.tz, policy.members)
    upcoming_share = Decimal(upcoming_tokens.get(contributor_id, 0)) / sum(upcoming_tokens.values()) if upcoming_tokens else Decimal(0)
    expected = (estimate["estimated_revenue"] * alpha * upcoming_share).quantize(quantum, rounding=ROUND_DOWN)
    expected += sum((Decimal(a) for _, a, _ in pending), Decimal(0))  # carried into the next payout

    funnel = contributor_funnel(funnel_rows(conn, contributor_id, period))
    removals = removal_summary(conn, contributor_id, period)
    withdrawn = withdrawn_files(conn, contributor_id, policy, period)
    held = held_files(conn, contributor_id, period)
    return {
        "contributor_id": contributor_id,
        "as_of_period": as_of.strftime("%Y-%m"),
        "currency": currency,
        "alpha": str(alpha),
        "contribution_ratio": str(ratio(mine, total)),
        "contribution_tokens": mine,
        "all_contributors_tokens": total,
        "current_reward": str(reward.quantize(quantum)),
        "period_payout": next((str(Decimal(a).quantize(quantum)) for p, _, _, a, _ in history if p == period), None) if period else None,
        "expected_payout": {
            "period": upcoming.strftime("%Y-%m"),
            "payout_date": next_month(upcoming).isoformat(),
            "amount": str(expected),
            "estimated_revenue": str(estimate["estimated_revenue"].quantize(quantum, rounding=ROUND_DOWN)),
            "revenue_so_far": str(estimate["revenue_so_far"]),
            "days_reported": estimate["days_reported"],
            "days_in_month": estimate["days_in_month"],
            "daily_average": str(estimate["daily_average"].quantize(quantum, rounding=ROUND_DOWN)),
            "basis": estimate["basis"],
            "share": str(ratio(upcoming_tokens.get(contributor_id, 0), sum(upcoming_tokens.values()))),
            "already_closed": upcoming in paid_periods,
        },
        "payout_history": [
            {"period": p.strftime("%Y-%m"), "tokens": int(t), "ratio": str(r), "amount": str(Decimal(a).quantize(quantum)),
             "adjustment_included": str(Decimal(adj).quantize(quantum))}
            for p, t, r, a, adj in history
        ],
        "pending_adjustments": [
            {"period": p.strftime("%Y-%m"), "amount": str(Decimal(a).quantize(quantum)), "reason": r} for p, a, r in pending
        ],
        "removed": removals,
        "withdrawn": withdrawn,
        "waiting": [f for f in held if f["status"] == "waiting"],
        "erased": [f for f in held if f["status"] == "erased"],
        "terms": terms_summary(conn, contributor_id),
        "membership": _membership(conn, contributor_id, policy),
        "api_credit": credit_section(conn, contributor_id, policy),
        "funnel": [
            {"stage": s, "docs": int(d), "tokens": int(t), "meaning": DESCRIPTIONS.get(s, "")} for s, d, t in funnel
        ],
    }


# Documents that earn nothing now: not accepted, or accepted until their file was withdrawn (rule `withdrawn`).
NOT_EARNING = f"NOT ({EARNING})"
WITHDRAWN_ACCEPTED = "(status = 'accepted' AND withdrawn_at IS NOT NULL)"
# Documents earning now whose passages were partly contributed earlier: the repeated part earns nothing.
REPEATED_PASSAGES = f"({EARNING} AND repeated_tokens > 0)"
EXPIRED_ACCEPTED = "(status = 'accepted' AND terms_expire_at <= now())"
RULE = (f"CASE WHEN {WITHDRAWN_ACCEPTED} THEN 'withdrawn' WHEN {EXPIRED_ACCEPTED} THEN 'terms_expired' "
        f"WHEN rule IN {KNOWN_TEXT_RULES} THEN '{KNOWN_TEXT}' ELSE coalesce(nullif(rule, ''), status) END")
REASON = (f"CASE WHEN {WITHDRAWN_ACCEPTED} THEN 'its file was withdrawn from the landing zone; it earned until then' "
          f"WHEN {EXPIRED_ACCEPTED} THEN 'the terms it was given under have expired; it earned until then' "
          "ELSE reason END")


def withdrawn_files(conn: duckdb.DuckDBPyConnection, contributor_id: str, policy: Policy,
                    period: date | None = None) -> list[dict]:
    """The contributor's files removed from the landing zone: when the platform saw them gone (date in the
    platform time zone) and the tokens that stopped earning then (documents still credited at withdrawal)."""
    where, params = "s.contributor_id = ? AND s.status = 'withdrawn'", [contributor_id]
    if period is not None:
        where, params = where + " AND s.period = ?", params + [period]
    rows = conn.execute(
        f"""SELECT s.period, s.file, s.submitted_at, s.withdrawn_at, count(d.position),
                   coalesce(sum({credited_tokens("d.")}) FILTER (WHERE d.status = 'accepted'), 0)::BIGINT
            FROM uploads s LEFT JOIN documents d
              ON d.contributor_id = s.contributor_id AND d.period = s.period AND d.withdrawn_at = s.withdrawn_at
             AND d.submitted_at = s.submitted_at AND (d.file = s.file OR starts_with(d.file, s.file || '/'))
            WHERE {where} GROUP BY ALL ORDER BY s.withdrawn_at, s.file""",
        params,
    ).fetchall()
    tz = policy.tz
    return [
        {"file": f, "period": p.strftime("%Y-%m"), "submitted_at": sub.astimezone(tz).isoformat(timespec="seconds"),
         "withdrawn_on": gone.astimezone(tz).date().isoformat(), "withdrawn_at": gone.astimezone(tz).isoformat(timespec="seconds"),
         "docs": int(n), "tokens_stopped": int(t)}
        for p, f, sub, gone, n, t in rows
    ]


def _membership(conn: duckdb.DuckDBPyConnection, contributor_id: str, policy: Policy) -> dict:
    found = progress(conn, policy.membership_words, contributor_id)
    mine = found[0] if found else Progress(contributor_id, 0, policy.membership_words, 0)
    return {**mine.as_dict(), "share_requires_membership": policy.share_requires_membership}


def held_files(conn: duckdb.DuckDBPyConnection, contributor_id: str, period: date | None = None) -> list[dict]:
    """Files not read: waiting for their terms (with the reason) or erased at a request."""
    rows = conn.execute(
        "SELECT DISTINCT period, file, status, error, notes FROM uploads WHERE contributor_id = ? "
        "AND status IN ('waiting', 'erased') AND (? IS NULL OR period = ?) ORDER BY status, period, file",
        [contributor_id, period, period]).fetchall()
    return [{"period": p.strftime("%Y-%m"), "file": f, "status": st, "reason": error or notes}
            for p, f, st, error, notes in rows]


def terms_summary(conn: duckdb.DuckDBPyConnection, contributor_id: str) -> list[dict]:
    """The terms the contributor's earning documents were given under, with their tokens."""
    rows = conn.execute(
        f"""SELECT coalesce(json_extract_string(nullif(terms, ''), '$.usage'), 'pretraining-only'),
                   coalesce(json_extract(nullif(terms, ''), '$.evaluation_allowed')::BOOLEAN, FALSE),
                   json_extract_string(nullif(terms, ''), '$.expires'), count(*), sum({CREDITED_TOKENS})::BIGINT
            FROM documents WHERE contributor_id = ? AND {EARNING} GROUP BY ALL ORDER BY 5 DESC""",
        [contributor_id]).fetchall()
    return [{"usage": u, "evaluation_allowed": bool(e), "expires": x, "docs": int(n), "tokens": int(t)}
            for u, e, x, n, t in rows]


def removal_summary(conn: duckdb.DuckDBPyConnection, contributor_id: str, period: date | None = None) -> list[dict]:
    """Why the contributor's documents earn nothing, by rule, with one example reason each (own documents only);
    documents that were credited until their file was withdrawn show as `withdrawn`."""
    where, params = f"contributor_id = ? AND {NOT_EARNING}", [contributor_id]
    if period is not None:
        where, params = where + " AND period = ?", params + [period]
    repeated = where.replace(NOT_EARNING, REPEATED_PASSAGES)
    rows = conn.execute(
        f"""SELECT {RULE}, count(*), sum(tokens)::BIGINT, min({REASON})
            FROM documents WHERE {where} GROUP BY 1
            UNION ALL
            SELECT 'repeated_passages', count(*), sum(repeated_tokens)::BIGINT, min(passage_reason)
            FROM documents WHERE {repeated} HAVING count(*) > 0
            ORDER BY 2 DESC, 1""",
        params + params,
    ).fetchall()
    return [{"rule": r, "docs": int(n), "tokens": int(t), "example": e} for r, n, t, e in rows]


def document_reasons(conn: duckdb.DuckDBPyConnection, contributor_id: str, period: date | None = None,
                     limit: int = 1000) -> list[dict]:
    """Every one of the contributor's documents that earns nothing, with the rule and its reason (rule
    `withdrawn`: credited until its file was withdrawn)."""
    where, params = f"contributor_id = ? AND {NOT_EARNING}", [contributor_id]
    if period is not None:
        where, params = where + " AND period = ?", params + [period]
    rows = conn.execute(
        f"""SELECT period, file, position, doc_id,
                   CASE WHEN status IN ('duplicate', 'near_duplicate', 'reference') THEN '{KNOWN_TEXT}'
                        ELSE status END,
                   {RULE.replace("coalesce(nullif(rule, ''), status)", "rule")},
                   {REASON}, tokens, withdrawn_at FROM documents WHERE {where}
            UNION ALL
            SELECT period, file, position, doc_id, 'accepted', 'repeated_passages', passage_reason, repeated_tokens,
                   withdrawn_at
            FROM documents WHERE {where.replace(NOT_EARNING, REPEATED_PASSAGES)}
            ORDER BY period, file, position, withdrawn_at NULLS LAST LIMIT {int(limit)}""",
        params + params,
    ).fetchall()
    rows = [row[:-1] for row in rows]
    keys = ["period", "file", "position", "doc_id", "status", "rule", "reason", "tokens"]
    return [dict(zip(keys, row)) for row in rows]
