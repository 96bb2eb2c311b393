"""Training releases: the documents a month's payouts bought, as the consumer receives them.

A month's release holds every document earning in that month (the documents behind that month's T_i, so its
tokens per contributor equal the month's contribution ratios), as PII-masked text exactly as credited, with the
terms each was given under. Releases are immutable and numbered per month (`2026-11-r1`, `-r2` when a later cut
differs); each lists by public document id what left since the previous release and why (withdrawn, erased, terms
expired, no longer credited), so a consumer can drop those documents from its own copies.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import polars as pl

from onett_domain import sql
from onett_domain.earning import EARNING_IN_MONTH, TOKENS_IN_MONTH
from onett_domain.funnel import DESCRIPTIONS
from onett_domain.periods import month_end
from onett_domain.terms import DEFAULT_USAGE
from onett_text.pii import PII_KINDS
from onett_text.quality import RULES

SQL = Path(__file__).with_name("sql")
REMOVAL_REASONS = ("withdrawn", "erased", "expired", "no_longer_credited")

# The columns of a release shard: (name, polars type, Croissant/Markdown type name, description).
COLUMNS = [
    ("document_id", pl.String, "string", "stable public id of the document (MD5 of contributor, file, position)"),
    ("contributor_id", pl.String, "string", "the contributor the document is credited to"),
    ("text", pl.String, "string", "the text as credited: Unicode NFC, invisible characters removed, whitespace "
                                  "tidied, personal data masked"),
    ("tokens", pl.Int64, "int64", "cl100k_base tokens of the text: what the contributor is paid for"),
    ("words", pl.Int64, "int64", "whitespace-separated units of the text (a Korean eojeol is one word)"),
    ("language", pl.String, "string", "ko, en or other"),
    ("usage", pl.String, "string", "pretraining-only or pretraining-and-finetuning"),
    ("evaluation_allowed", pl.Boolean, "bool", "whether the text may be used to evaluate models"),
    ("terms_expire", pl.Date, "date", "last day the text may be used (null: no expiry); drop it after"),
    ("submitted_at", pl.Datetime("us", "UTC"), "timestamp", "when the contributor submitted it"),
    ("content_hash", pl.String, "string", "BLAKE2b-128 of the text"),
]
SHARD_SCHEMA = {name: dtype for name, dtype, _, _ in COLUMNS}

KNOWN_LIMITS = [
    "Language identification is a character-class heuristic (ko, en, other), not a trained classifier.",
    "Personal data masking is pattern-based (resident registration, phone, card and account numbers, e-mail "
    "addresses): names, postal addresses and free-form personal details are not masked.",
    "Near-duplicates are found by MinHash over whole documents; passages of a new document that repeat earlier "
    "documents (or the consumer's text) earn nothing but stay in its text.",
    "Documents whose terms expire or that are withdrawn or erased later must be dropped from downstream copies: "
    "later releases list them under `removed`.",
]


class ReleaseIncomplete(RuntimeError):
    """A document that earns has no text in the Parquet parts: the release would not match the payouts."""


def preprocessing(encoding: str) -> dict:
    """How the text was prepared, for the manifest and the dataset card."""
    return {
        "normalization": "Unicode NFC, invisible and control characters removed, whitespace tidied",
        "pii_kinds": [k.removeprefix("pii_") for k in PII_KINDS],
        "rules": [rule.name for rule in RULES],
        "dedup": "exact (normalized text hash) and near (MinHash LSH, estimated Jaccard) across all contributors, "
                 "first submission keeps the credit; text matching the consumer's reference corpus removed",
        "tokenizer": encoding,
    }


def _query(name: str) -> str:
    return sql.load(SQL, name).replace("$earning", f"({EARNING_IN_MONTH})").replace("$credited", TOKENS_IN_MONTH)


def _params(period: date, tz: ZoneInfo) -> dict:
    return {"period": period, "end": month_end(period, tz)}


def release_id(period: date, existing: list[str]) -> str:
    """`YYYY-MM-rN`: the next number for the month."""
    prefix = f"{period:%Y-%m}-r"
    numbers = [int(r.removeprefix(prefix)) for r in existing if r.startswith(prefix) and r[len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1}"


def submissions(conn: duckdb.DuckDBPyConnection, period: date, tz: ZoneInfo) -> list[tuple[str, date, int]]:
    """The submissions holding released documents, in release order, with their document counts."""
    return [(c, p, int(n)) for c, p, n in sql.execute(
        conn, f"SELECT contributor_id, period, count(*) FROM ({_query('release_documents')}) GROUP BY ALL "
              "ORDER BY contributor_id, period", _params(period, tz))]


def members(conn: duckdb.DuckDBPyConnection, period: date, tz: ZoneInfo, contributor_id: str,
            submission: date) -> pl.DataFrame:
    """One submission's released documents with their terms as columns (no text: that is in the Parquet parts)."""
    query = f"""SELECT document_id, file, position, tokens,
                       coalesce(nullif(json_extract_string(nullif(terms, ''), '$.usage'), ''), '{DEFAULT_USAGE}')
                           AS usage,
                       coalesce(json_extract(nullif(terms, ''), '$.evaluation_allowed')::BOOLEAN, FALSE)
                           AS evaluation_allowed,
                       TRY_CAST(json_extract_string(nullif(terms, ''), '$.expires') AS DATE) AS terms_expire
                FROM ({_query('release_documents')})
                WHERE contributor_id = $contributor AND period = $submission ORDER BY file, position"""
    params = {**_params(period, tz), "contributor": contributor_id, "submission": submission}
    return pl.from_arrow(conn.sql(query, params=params).to_arrow_table())


def shard_rows(texts: pl.DataFrame, chosen: pl.DataFrame) -> pl.DataFrame:
    """Rows of a shard from one Parquet part of `filtered` (`texts`) and the submission's released documents."""
    joined = texts.join(chosen, on=["file", "position"], how="inner", suffix="_released")
    return joined.select(
        "document_id", "contributor_id", "text", pl.col("tokens_released").alias("tokens"),
        pl.col("text").str.count_matches(r"\S+").alias("words"), "language", "usage",
        "evaluation_allowed", "terms_expire", "submitted_at", "content_hash",
    ).cast(SHARD_SCHEMA)


def summary(conn: duckdb.DuckDBPyConnection, period: date, tz: ZoneInfo) -> dict:
    """Documents and tokens in total, per contributor with their terms, and per language."""
    released = f"({_query('release_documents')})"
    params = _params(period, tz)
    contributors: dict[str, dict] = {}
    rows = sql.execute(conn, f"""
        SELECT contributor_id,
               coalesce(nullif(json_extract_string(nullif(terms, ''), '$.usage'), ''), '{DEFAULT_USAGE}') AS usage,
               coalesce(json_extract(nullif(terms, ''), '$.evaluation_allowed')::BOOLEAN, FALSE) AS evaluation,
               json_extract_string(nullif(terms, ''), '$.expires') AS expires,
               coalesce(json_extract_string(nullif(terms, ''), '$.agreement_version'), '') AS agreement,
               count(*), sum(credited_tokens)::BIGINT
        FROM {released} GROUP BY ALL ORDER BY ALL""", params)
    for contributor, usage, evaluation, expires, agreement, docs, tokens in rows:
        entry = contributors.setdefault(contributor, {"contributor_id": contributor, "documents": 0, "tokens": 0,
                                                      "terms": []})
        entry["documents"] += int(docs)
        entry["tokens"] += int(tokens)
        entry["terms"].append({"usage": usage, "evaluation_allowed": bool(evaluation), "redistribution": "never",
                               "expires": expires, "agreement_version": agreement or None,
                               "documents": int(docs), "tokens": int(tokens)})
    languages = [{"language": lang, "documents": int(n), "tokens": int(t)} for lang, n, t in sql.execute(
        conn, f"SELECT coalesce(nullif(language, ''), 'other'), count(*), sum(credited_tokens)::BIGINT FROM {released} "
              "GROUP BY 1 ORDER BY 3 DESC, 1", params)]
    funnel = [{"stage": stage, "documents": int(n), "tokens": int(t), "meaning": DESCRIPTIONS.get(stage, "")}
              for stage, n, t in conn.execute(
                  "SELECT stage, sum(docs)::BIGINT, sum(tokens)::BIGINT FROM token_funnel WHERE period = ? "
                  "GROUP BY stage ORDER BY min(stage_order)", [period]).fetchall()]
    return {
        "documents": sum(c["documents"] for c in contributors.values()),
        "tokens": sum(c["tokens"] for c in contributors.values()),
        "contributors": list(contributors.values()),
        "languages": languages,
        "funnel": funnel,
    }


def removed_since(conn: duckdb.DuckDBPyConnection, period: date, tz: ZoneInfo, previous_ids: list[str],
                  redacted: list[str]) -> dict[str, list[str]]:
    """What left since the previous release, by reason. `previous_ids`: the Parquet shards of the previous release
    (read by DuckDB, never held in memory); `redacted`: ids already cut out of them by erasures."""
    removed: dict[str, list[str]] = {reason: [] for reason in REMOVAL_REASONS}
    if previous_ids:
        conn.read_parquet(previous_ids).select("document_id").create_view("_previous_ids", replace=True)
        try:
            for document_id, reason in sql.execute(conn, _query("release_removed"), _params(period, tz)):
                removed[reason].append(document_id)
        finally:
            conn.execute("DROP VIEW IF EXISTS _previous_ids")
    removed["erased"] = sorted(set(removed["erased"]) | set(redacted))
    return removed


def ratios_difference(conn: duckdb.DuckDBPyConnection, period: date, tz: ZoneInfo, summary_: dict) -> list[dict]:
    """Contributors whose released tokens differ from the month's stored T_i less what has left since the month
    ended (withdrawn or erased documents, whose text is no longer given out): none, unless something changed the
    credit after the month was computed (a late earlier copy, a rule change)."""
    stored = dict(conn.execute("SELECT contributor_id, tokens FROM contribution_ratios WHERE period = ?",
                               [period]).fetchall())
    left = dict(sql.execute(conn, f"""SELECT contributor_id, sum({TOKENS_IN_MONTH})::BIGINT FROM documents
                                      WHERE ({EARNING_IN_MONTH}) AND (withdrawn_at IS NOT NULL OR erased_at IS NOT NULL)
                                      GROUP BY 1""", _params(period, tz)))
    released = {c["contributor_id"]: c["tokens"] for c in summary_["contributors"]}
    rows = []
    for c in sorted(set(stored) | set(released)):
        expected = int(stored.get(c, 0)) - int(left.get(c, 0))
        if released.get(c, 0) != expected:
            rows.append({"contributor_id": c, "released_tokens": released.get(c, 0),
                         "ratio_tokens": int(stored.get(c, 0)), "left_since": int(left.get(c, 0))})
    return rows


class Digest:
    """What a release holds, independent of how it was written: document ids, text hashes, tokens and terms in
    release order. Two cuts with the same digest are the same release."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def update(self, rows: pl.DataFrame) -> None:
        line = pl.concat_str([pl.col("document_id"), pl.col("content_hash"), pl.col("tokens").cast(pl.String),
                              pl.col("usage"), pl.col("evaluation_allowed").cast(pl.String),
                              pl.col("terms_expire").cast(pl.String).fill_null("")], separator="\t")
        self._hash.update("\n".join(rows.select(line.alias("l"))["l"].to_list()).encode() + b"\n")

    def hexdigest(self) -> str:
        return self._hash.hexdigest()
