"""What earns: T_i, the tokens a contributor is credited with for a month.

A document earns in month P when it is accepted, was submitted by the end of P (data keeps earning in every month
after the one it arrived in), started earning by then (a copy whose earlier copies were all withdrawn earns from
the last withdrawal on) and was not withdrawn before then (a withdrawn file stops earning from the month it was
withdrawn in), and its terms had not ended by then (terms that expire end its earning like a withdrawal).
The same documents make that month's training release.

What such a document earns is its tokens less those of its passages contributed earlier (`repeated_tokens`), and
less those handed on to it by a withdrawal (`handed_on_tokens`) in the months that ended before they were."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import duckdb

from onett_domain.periods import month_end

# Documents credited now: accepted and their file still in the landing zone (the funnel's `accepted` stage).
EARNING = "status = 'accepted' AND withdrawn_at IS NULL AND (terms_expire_at IS NULL OR terms_expire_at > now())"

# What a document is credited with now (columns of `documents`; `prefix` an alias such as "d.").
def credited_tokens(prefix: str = "") -> str:
    return f"({prefix}tokens - coalesce({prefix}repeated_tokens, 0))"


# What a document earning in the month ending at $end is credited with.
def tokens_in_month(prefix: str = "") -> str:
    return (f"({prefix}tokens - coalesce({prefix}repeated_tokens, 0) - CASE WHEN {prefix}handed_on_at >= $end "
            f"THEN coalesce({prefix}handed_on_tokens, 0) ELSE 0 END)")


CREDITED_TOKENS = credited_tokens()
TOKENS_IN_MONTH = tokens_in_month()

# Documents earning in the month ending at $end (with `period <= $period`).
EARNING_IN_MONTH = """status = 'accepted' AND period <= $period
    AND (earns_from IS NULL OR earns_from < $end) AND (withdrawn_at IS NULL OR withdrawn_at >= $end)
    AND (terms_expire_at IS NULL OR terms_expire_at >= $end)"""


def accepted_tokens_through(conn: duckdb.DuckDBPyConnection, period: date, tz: ZoneInfo,
                            members: frozenset[str] | None = None) -> dict[str, int]:
    """T_i for every contributor holding tokens at the end of `period` (midnight in the platform time zone); with
    `members`, only theirs (when the revenue share requires 1T Club membership)."""
    rows = conn.execute(
        f"""SELECT contributor_id, sum({TOKENS_IN_MONTH})::BIGINT FROM documents
           WHERE {EARNING_IN_MONTH}
           GROUP BY 1 HAVING sum({TOKENS_IN_MONTH}) > 0 ORDER BY 1""",
        {"period": period, "end": month_end(period, tz)},
    ).fetchall()
    return {c: int(t) for c, t in rows if members is None or c in members}
