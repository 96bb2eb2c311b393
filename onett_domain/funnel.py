"""The token funnel: documents and tokens remaining after each preprocessing stage (the paper's "data
preprocessing results"), computed from the `documents` table so it always matches the credit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from onett_domain.earning import CREDITED_TOKENS, EARNING
from onett_text.quality import GROUPS


@dataclass(frozen=True)
class Stage:
    name: str
    description: str
    keeps: str  # SQL condition on `documents` for the documents still in after this stage
    tokens: str = "tokens"


def _stages() -> list[Stage]:
    stages = [
        Stage("raw", "documents read from the upload; tokens of the text as uploaded, whitespace tidied (exactly as "
                     "uploaded with ONETT_COUNT_RAW_TOKENS=1)", "TRUE", "raw_tokens"),
        Stage("normalized", "the same documents after Unicode clean-up and masking of personal data", "TRUE"),
    ]
    removed: list[str] = []
    for group, description in GROUPS.items():  # the quality rules' groups, in the order they apply
        removed.append(f"'{group}'")
        stages.append(Stage(group, f"after removing {description}",
                            f"NOT (status = 'rejected' AND filter_group IN ({', '.join(removed)}))"))
    return stages + [
        Stage("exact_dedup", "after removing exact copies of earlier submissions, yours or others'",
              "status NOT IN ('rejected', 'duplicate')"),
        Stage("near_dedup", "after removing near copies (small edits) of earlier submissions",
              "status NOT IN ('rejected', 'duplicate', 'near_duplicate')"),
        Stage("reference_match", "after removing text (or near copies of text) the consumer already has or that is "
                                 "public", "status = 'accepted'"),
        Stage("repeated_passages", "after removing passages already contributed earlier (by anyone) or held by the "
                                   "consumer, inside otherwise new documents",
              f"status = 'accepted' AND {CREDITED_TOKENS} > 0", CREDITED_TOKENS),
        Stage("withdrawn", "after removing the documents of files withdrawn from the landing zone (they earned until "
                           "they were withdrawn)", f"{EARNING} AND {CREDITED_TOKENS} > 0", CREDITED_TOKENS),
        Stage("accepted", "documents and tokens credited to the contributor: earning now",
              f"{EARNING} AND {CREDITED_TOKENS} > 0", CREDITED_TOKENS),
    ]


STAGES: list[Stage] = _stages()
# What a contributor sees of the three stages that remove copies of earlier text: one stage. Which of them removed a
# document would tell a contributor who guessed a text whether another contributor holds it or the consumer does;
# the warehouse (and the operator) keep the three stages and rules apart.
KNOWN_TEXT = "known_text"
KNOWN_TEXT_RULES = ("exact_dedup", "near_dedup", "reference_match")
DESCRIPTIONS = {s.name: s.description for s in STAGES} | {
    KNOWN_TEXT: "after removing exact and near copies of text already known: earlier submissions (yours or anyone's), "
                "text the consumer holds and public text"}


def contributor_funnel(rows: list[tuple]) -> list[tuple]:
    """(stage, documents, tokens) rows as a contributor sees them: the copy-removing stages as one (the stages are
    cumulative, so the last of them stands for all three)."""
    return [(KNOWN_TEXT if stage == KNOWN_TEXT_RULES[-1] else stage, docs, tokens) for stage, docs, tokens in rows
            if stage not in KNOWN_TEXT_RULES[:-1]]


def refresh_funnel(conn: duckdb.DuckDBPyConnection, submissions: list[tuple[str, date]]) -> None:
    """Rewrite the funnel rows of these (contributor, period) submissions; call inside a transaction."""
    if not submissions:
        return
    conn.execute("CREATE OR REPLACE TEMP TABLE _funnel_keys (contributor_id VARCHAR, period DATE)")
    conn.executemany("INSERT INTO _funnel_keys VALUES (?, ?)", [list(p) for p in sorted(set(submissions))])
    conn.execute(
        "DELETE FROM token_funnel WHERE (contributor_id, period) IN (SELECT contributor_id, period FROM _funnel_keys)"
    )
    columns = ",\n".join(
        f"count(d.position) FILTER (WHERE {s.keeps}) AS docs_{i}, "
        f"coalesce(sum({s.tokens}) FILTER (WHERE {s.keeps}), 0) AS tokens_{i}"
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
    """(stage, documents, tokens) of one submission, or of all the contributor's submissions summed."""
    where, params = "contributor_id = ?", [contributor_id]
    if period is not None:
        where, params = where + " AND period = ?", params + [period]
    return conn.execute(
        f"""SELECT stage, sum(docs)::BIGINT, sum(tokens)::BIGINT FROM token_funnel WHERE {where}
            GROUP BY stage, stage_order ORDER BY stage_order""",
        params,
    ).fetchall()
