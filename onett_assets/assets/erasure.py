"""erasures: finishing the erasure requests whose submissions were processed without the erased file."""

from datetime import datetime, timezone

from dagster import AssetExecutionContext, AssetsDefinition, MaterializeResult, asset

from onett_assets.assets.releases import describe
from onett_assets.metadata import table
from onett_domain import erasure
from onett_domain.credit import bucket_index, signature_files
from onett_resources import ConsentRegistry, ReleaseStore, Warehouse
from onett_resources.warehouse import transaction

GROUP = "releases"


def erasure_assets() -> list[AssetsDefinition]:
    @asset(group_name=GROUP, deps=["token_counts", "training_release"], kinds={"duckdb"}, pool="duckdb")
    def erasures(context: AssetExecutionContext, warehouse: Warehouse, consent: ConsentRegistry,
                 release_store: ReleaseStore) -> MaterializeResult:
        """The record of erased uploads, and the last copies of their text destroyed: for every pending request
        whose submission was processed without the file, the upload becomes `erased`, its documents get
        `erased_at` (ids, hashes and token counts stay, so payouts already made remain explainable), the
        near-duplicate index forgets signatures no one else holds, and every published release holding its
        documents is rewritten without them. Requests whose submission has not been processed yet wait."""
        done, waiting, released = [], [], set()
        for request in consent.erasures(pending=True):
            at = datetime.now(timezone.utc)
            note = (f"erased on {request.requested_at:%Y-%m-%d} at the request of {request.requested_by} "
                    f"({request.reason})")
            with warehouse.connection() as conn, transaction(conn):
                if not erasure.ready(conn, request.contributor_id, request.file, request.sha256):
                    waiting.append(request)
                    continue
                ids, hashes = erasure.erase_upload(conn, request.contributor_id, request.file, request.sha256,
                                                   at, note)
                forgotten = erasure.forget_signatures(conn, hashes)
            changed = release_store.redact(set(ids), at.isoformat(timespec="seconds"), describe) if ids else []
            released.update(changed)
            with warehouse.connection() as conn:
                conn.execute("CHECKPOINT")  # deleted index rows leave the file's live blocks now
                bucket_index.sweep(conn)  # and the bucket and signature files that held them leave the disk
                signature_files.sweep(conn)
            consent.mark_done(request.id)
            done.append([request.id, request.contributor_id, request.file, len(ids), forgotten,
                         ", ".join(changed) or "none"])
        if waiting:
            context.log.info(f"{len(waiting)} erasure(s) wait for their submission to be processed without the "
                             "file (`onett ingest`, or the landing-zone sensor)")
        return MaterializeResult(metadata={
            "erased now": table(["request", "contributor", "file", "documents", "signatures forgotten",
                                 "releases rewritten"], done, empty="none"),
            "waiting for ingest": table(["request", "contributor", "file"],
                                        [[r.id, r.contributor_id, r.file] for r in waiting], empty="none"),
        })

    return [erasures]
