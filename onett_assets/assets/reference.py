"""The reference corpus: text the consumer already has or that is public on the web."""

from datetime import datetime, timezone

from dagster import AssetsDefinition, MaterializeResult, asset

from onett_assets.metadata import bullets
from onett_domain.reference import reference_documents, store_reference
from onett_resources import ReferenceFolder, Tokenizer, Warehouse
from onett_resources.warehouse import transaction


def reference_assets() -> list[AssetsDefinition]:
    @asset(group_name="reference", kinds={"duckdb"}, pool="duckdb")
    def reference_corpus(reference_folder: ReferenceFolder, tokenizer: Tokenizer, warehouse: Warehouse
                         ) -> MaterializeResult:
        """Fingerprints of every reference document (files in the reference folder, upload formats): the hash of
        its normalized text and its MinHash signature in the near-duplicate index. An upload whose text equals or
        nearly equals one earns nothing; its reason names the reference document."""
        fingerprint = reference_folder.fingerprint()
        result = reference_folder.read()
        frame = reference_documents([(r.file, r.position, r.text) for r in result.records], tokenizer.count)
        with warehouse.connection() as conn, transaction(conn):
            indexed = store_reference(conn, frame, fingerprint, datetime.now(timezone.utc), tokenizer.encoding)
        return MaterializeResult(metadata={
            "files": len(reference_folder.files()),
            "documents": frame.height,
            "texts added to the near-duplicate index": indexed,
            "tokens": int(frame["tokens"].sum()),
            "records skipped": result.skipped,
            "problems": bullets(result.problems),
            "fingerprint": fingerprint,
        })

    return [reference_corpus]
