"""1T Club membership: partners who contributed more than a threshold of words (100 million by default) may apply;
an operator approves or declines.

A word is a whitespace-separated unit of the text as credited (as releases count them): a Korean eojeol (어절, a
word with its particles, e.g. "출판사에서") is one word, so Korean text counts fewer words than its syllables or
morphemes would. Words contributed are those of the contributor's documents earning now (accepted, not withdrawn,
terms not expired, not erased)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl

from onett_domain.earning import EARNING


@dataclass(frozen=True)
class Progress:
    contributor_id: str
    words: int
    threshold: int
    uncounted_documents: int  # earning documents read before words were counted (filled in by `club_membership`)

    @property
    def eligible(self) -> bool:
        return self.words > self.threshold

    @property
    def share(self) -> float:
        return min(self.words / self.threshold, 1.0) if self.threshold else 1.0

    def as_dict(self) -> dict:
        return {"words": self.words, "threshold": self.threshold, "eligible": self.eligible,
                "progress": round(self.share, 6), "uncounted_documents": self.uncounted_documents}


def progress(conn: duckdb.DuckDBPyConnection, threshold: int, contributor_id: str | None = None) -> list[Progress]:
    """Words contributed per contributor (one contributor's, or everyone's, most first)."""
    rows = conn.execute(
        f"""SELECT contributor_id, coalesce(sum(words), 0)::BIGINT, count(*) FILTER (WHERE words IS NULL)
            FROM documents WHERE {EARNING} AND erased_at IS NULL AND (? IS NULL OR contributor_id = ?)
            GROUP BY 1 ORDER BY 2 DESC, 1""", [contributor_id, contributor_id]).fetchall()
    return [Progress(c, int(w), threshold, int(n)) for c, w, n in rows]


def uncounted_submissions(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, date]]:
    """Submissions with earning documents read before words were counted."""
    return conn.execute(f"SELECT DISTINCT contributor_id, period FROM documents WHERE {EARNING} AND words IS NULL "
                        "ORDER BY 1, 2").fetchall()


def fill_words(conn: duckdb.DuckDBPyConnection, contributor_id: str, period: date, counted: pl.DataFrame) -> int:
    """Store the words of a submission's documents (`counted`: file, position, words) where they are missing."""
    conn.register("_counted", counted.select("file", "position", "words").to_arrow())
    try:
        (n,), = conn.execute(
            "UPDATE documents d SET words = c.words FROM _counted c WHERE d.contributor_id = ? AND d.period = ? "
            "AND d.file = c.file AND d.position = c.position AND d.words IS NULL", [contributor_id, period]).fetchall()
    finally:
        conn.unregister("_counted")
    return int(n)
