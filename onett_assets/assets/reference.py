"""The reference corpus: text the consumer already has or that is public on the web."""


from datetime import datetime, timezone

import polars as pl
from dagster import MaterializeResult, MetadataValue, asset

from onett_assets.preprocessing.hashing import content_hash
from onett_assets.preprocessing.normalize import normalize_text
from onett_resources import ReferenceFolder, Tokenizer, Warehouse
from onett_resources.warehouse import transaction


@asset(group_name="reference", kinds={"duckdb"}, pool="duckdb")
def reference_corpus(reference_folder: ReferenceFolder, tokenizer: Tokenizer, warehouse: Warehouse) -> MaterializeResult:
    """Normalized fingerprints of every reference document (files in the reference folder, upload formats).
    An upload whose text matches one earns nothing; its reason names the reference document."""
    fingerprint = reference_folder.fingerprint()
    result = reference_folder.read()
    frame = pl.DataFrame(
        {
            "reference_id": [r.file if r.position == 0 else f"{r.file}#{r.position}" for r in result.records],
            "text": [r.text for r in result.records],
        },
        schema={"reference_id": pl.String, "text": pl.String},
    ).with_columns(text=normalize_text(pl.col("text"))).filter(pl.col("text") != "")
    frame = frame.with_columns(
        content_hash=content_hash(frame["text"]),
        tokens=pl.Series(tokenizer.count(frame["text"].to_list()), dtype=pl.Int64),
    ).drop("text")
    with warehouse.connection() as conn, transaction(conn):
        conn.execute("DELETE FROM reference_documents; DELETE FROM reference_state")
        conn.register("_reference", frame.to_arrow())
        conn.execute("INSERT INTO reference_documents BY NAME SELECT * FROM _reference")
        conn.unregister("_reference")
        conn.execute(
            "INSERT INTO reference_state VALUES (?, ?, ?)", [fingerprint, frame.height, datetime.now(timezone.utc)]
        )
    return MaterializeResult(
        metadata={
            "files": len(reference_folder.files()),
            "documents": frame.height,
            "tokens": int(frame["tokens"].sum()),
            "records skipped": result.skipped,
            "problems": MetadataValue.md("\n".join(f"- {p}" for p in result.problems[:50]) or "none"),
            "fingerprint": fingerprint,
        }
    )
