"""The reference corpus: text the consumer already has or that is public on the web."""


from datetime import datetime, timezone

import polars as pl
from dagster import MaterializeResult, MetadataValue, asset

from onett_assets.near_index import index_texts
from onett_assets.preprocessing.hashing import content_hash
from onett_assets.preprocessing.normalize import normalize_text
from onett_assets.preprocessing.pii import mask_pii
from onett_resources import ReferenceFolder, Tokenizer, Warehouse
from onett_resources.warehouse import insert_frame, transaction


@asset(group_name="reference", kinds={"duckdb"}, pool="duckdb")
def reference_corpus(reference_folder: ReferenceFolder, tokenizer: Tokenizer, warehouse: Warehouse) -> MaterializeResult:
    """Fingerprints of every reference document (files in the reference folder, upload formats): the hash
    of its normalized text and its MinHash signature in the near-duplicate index. An upload whose text
    equals or nearly equals one earns nothing; its reason names the reference document."""
    fingerprint = reference_folder.fingerprint()
    result = reference_folder.read()
    frame = pl.DataFrame(
        {
            "reference_id": [r.file if r.position == 0 else f"{r.file}#{r.position}" for r in result.records],
            "text": [r.text for r in result.records],
        },
        schema={"reference_id": pl.String, "text": pl.String},
    ).with_columns(text=normalize_text(pl.col("text")))
    # The same normalization and masking as uploads, so a copy matches whatever personal data it held.
    frame = mask_pii(frame).filter(pl.col("text") != "")
    frame = frame.with_columns(
        content_hash=content_hash(frame["text"]),
        tokens=pl.Series(tokenizer.count(frame["text"].to_list()), dtype=pl.Int64),
    )
    with warehouse.connection() as conn, transaction(conn):
        conn.execute("DELETE FROM reference_documents; DELETE FROM reference_state")
        insert_frame(conn, "reference_documents", frame.select("reference_id", "content_hash", "tokens"))
        indexed = index_texts(conn, frame["content_hash"].to_list(), frame["text"].to_list())
        conn.execute(
            "INSERT INTO reference_state VALUES (?, ?, ?)", [fingerprint, frame.height, datetime.now(timezone.utc)]
        )
    return MaterializeResult(
        metadata={
            "files": len(reference_folder.files()),
            "documents": frame.height,
            "texts added to the near-duplicate index": indexed,
            "tokens": int(frame["tokens"].sum()),
            "records skipped": result.skipped,
            "problems": MetadataValue.md("\n".join(f"- {p}" for p in result.problems[:50]) or "none"),
            "fingerprint": fingerprint,
        }
    )
