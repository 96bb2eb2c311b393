"""Materialization metadata: what an operator reads in the Dagster UI for every run. Markdown tables and short
lists; never document text."""

from __future__ import annotations

from typing import Any, Sequence

from dagster import MetadataValue


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], limit: int = 200) -> str:
    if not rows:
        return "(none)"
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"\n... and {len(rows) - limit} more rows")
    return "\n".join(lines)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], empty: str = "(none)") -> MetadataValue:
    return MetadataValue.md(markdown_table(header, rows) if rows else empty)


def bullets(items: Sequence[Any], limit: int = 50, empty: str = "none") -> MetadataValue:
    return MetadataValue.md("\n".join(f"- {item}" for item in items[:limit]) or empty)
