"""The token funnel: documents and tokens remaining after each preprocessing stage (the paper's
"data preprocessing results"), computed from the `documents` table so it always matches the credit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb


@dataclass(frozen=True)
class Stage:
    name: str
    description: str
    keeps: str  # SQL condition on `documents` for the documents still in after this stage
    tokens: str = "tokens"


STAGES: list[Stage] = [
    Stage("raw", "documents read from the upload; tokens of the text exactly as uploaded", "TRUE", "raw_tokens"),
    Stage("normalized", "the same documents after Unicode NFC and whitespace clean-up", "TRUE"),
    Stage("quality_filters", "after removing empty and too-short documents", "status <> 'rejected'"),
    Stage("reference_match", "after removing text the consumer already has or that is public", "status NOT IN ('rejected', 'reference')"),
    Stage("exact_dedup", "after removing exact copies of earlier submissions, yours or others'", "status = 'accepted'"),
    Stage("accepted", "documents and tokens credited to the contributor", "status = 'accepted'"),
]


def refresh_funnel(conn: duckdb.DuckDBPyConnection, partitions: list[tuple[str, date]]) -> None:
    """Rewrite the funnel rows of these (contributor, period) partitions; call inside a transaction."""
    if not partitions:
        return
    conn.execute("CREATE OR REPLACE TEMP TABLE _funnel_keys (contributor_id VARCHAR, period DATE)")
    conn.executemany("INSERT INTO _funnel_keys VALUES (?, ?)", [list(p) for p in sorted(set(partitions))])
    conn.execute(
        "DELETE FROM token_funnel WHERE (contributor_id, period) IN (SELECT contributor_id, period FROM _funnel_keys)"
    )
    columns = ",\n".join(
        f"count(d.position) FILTER (WHERE {s.keeps}) AS docs_{i}, coalesce(sum({s.tokens}) FILTER (WHERE {s.keeps}), 0) AS tokens_{i}"
        for i, s in enumerate(STAGES)
    )
    unpivot = " UNION ALL ".join(
        f"SELECT contributor_id, period, '{s.name}', docs_{i}, tokens_{i}, {i} FROM counts" for i, s in enumerate(STAGES)
    )
    conn.execute(
        f"""
        INSERT INTO token_funnel (contributor_id, period, stage, docs, tokens, stage_order)
        WITH counts AS (
            SELECT k.contributor_id, k.period, {columns}
            FROM _funnel_keys k LEFT JOIN documents d USING (contributor_id, period)
            GROUP BY ALL
        )
        {unpivot}
        """
    )
    conn.execute("DROP TABLE _funnel_keys")


def funnel_rows(conn: duckdb.DuckDBPyConnection, contributor_id: str, period: date | None = None) -> list[tuple]:
    where, params = "contributor_id = ?", [contributor_id]
    if period is not None:
        where, params = where + " AND period = ?", params + [period]
    return conn.execute(
        f"""SELECT stage, sum(docs)::BIGINT, sum(tokens)::BIGINT FROM token_funnel WHERE {where}
            GROUP BY stage, stage_order ORDER BY stage_order""",
        params,
    ).fetchall()
