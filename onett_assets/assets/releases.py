"""Per month: training_release, the documents the month's payouts bought, for the data consumer
(onett_domain.releases decides what is in it; onett_resources.release_store writes it)."""

from datetime import date, datetime, timezone

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    asset,
)

from onett_assets.metadata import table
from onett_assets.partitions import Partitions
from onett_domain import releases
from onett_domain.periods import month_end
from onett_domain.policy import Policy
from onett_domain.release_card import croissant, dataset_card
from onett_resources import DocumentStore, ReleaseStore, Tokenizer, Warehouse

GROUP = "releases"
TEXT_COLUMNS = ["contributor_id", "file", "position", "text", "tokens", "language", "submitted_at", "content_hash"]


def describe(manifest: dict) -> tuple[dict, str]:
    return croissant(manifest), dataset_card(manifest)


def release_assets(partitions: Partitions) -> list[AssetsDefinition]:
    @asset(group_name=GROUP, partitions_def=partitions.months, kinds={"parquet"}, pool="duckdb",
           deps=[AssetDep("payouts")],
           check_specs=[AssetCheckSpec(
               "tokens_match_ratios", asset="training_release", blocking=True,
               description="The release's tokens per contributor equal the month's T_i, less what was withdrawn or "
                           "erased since.")])
    def training_release(context: AssetExecutionContext, warehouse: Warehouse, document_store: DocumentStore,
                         release_store: ReleaseStore, tokenizer: Tokenizer, policy: ResourceParam[Policy]
                         ) -> MaterializeResult:
        """Every document earning in the month (accepted, not withdrawn, terms not expired, text not erased), as
        PII-masked text exactly as credited, in Parquet shards with a manifest (sha256, rows and tokens per shard;
        documents, tokens and terms per contributor), a Croissant description and a dataset card. Immutable: a cut
        that holds the same documents as the month's latest release publishes nothing; one that differs becomes
        the next release of the month (`-r2`), listing what left since the previous release and why."""
        period = date.fromisoformat(context.partition_key)
        tz = policy.tz
        existing = release_store.manifests()
        previous = existing[-1] if existing else None
        with warehouse.connection() as conn, release_store.writing() as out:
            digest, words = releases.Digest(), {}
            for contributor_id, submission, count in releases.submissions(conn, period, tz):
                chosen = releases.members(conn, period, tz, contributor_id, submission)
                written = 0
                for texts in document_store.batches("filtered", contributor_id, submission, TEXT_COLUMNS):
                    rows = releases.shard_rows(texts, chosen)
                    if rows.height:
                        digest.update(rows)
                        words[contributor_id] = words.get(contributor_id, 0) + int(rows["words"].sum())
                        out.shards.write(rows)
                        written += rows.height
                if written != count:
                    raise releases.ReleaseIncomplete(
                        f"{contributor_id} {submission:%Y-%m}: {count} documents earn in {period:%Y-%m} but the text "
                        f"of {count - written} is not in its filtered parts; materialize filtered (and deduped) for "
                        "that submission again, then cut the release")
            shards = out.shards.close()
            latest = next((m for m in reversed(existing) if m["period"] == f"{period:%Y-%m}"), None)
            if latest is not None and latest["cut_from"]["documents_digest"] == digest.hexdigest():
                return MaterializeResult(
                    metadata={"release": latest["release_id"], "unchanged": "same documents as the month's latest "
                              "release: nothing new published"},
                    check_results=[_check(latest.get("ratios_difference", []))])
            summary = releases.summary(conn, period, tz)
            for entry in summary["contributors"]:
                entry["words"] = words.get(entry["contributor_id"], 0)
            difference = releases.ratios_difference(conn, period, tz, summary)
            removed = releases.removed_since(conn, period, tz, release_store.shard_paths(previous["release_id"])
                                             if previous else [], _redacted(previous))
            closed = conn.execute("SELECT max(closed_at) FROM payout_periods WHERE period = ?", [period]).fetchone()[0]
            manifest = {
                "release_id": releases.release_id(period, [m["release_id"] for m in existing]),
                "period": f"{period:%Y-%m}",
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "platform": release_store.platform(),
                "cut_from": {"earning_through": month_end(period, tz).isoformat(),
                             "documents_digest": digest.hexdigest(),
                             "closed_at": closed.isoformat() if closed else None,
                             "run_id": context.run_id},
                "previous_release": previous["release_id"] if previous else None,
                **summary,
                "words": sum(words.values()),
                "bytes": sum(s["bytes"] for s in shards),
                "columns": [{"name": n, "type": t, "description": d} for n, _, t, d in releases.COLUMNS],
                "shards": shards,
                "removed": {"since": previous["release_id"] if previous else None, **removed},
                "ratios_difference": difference,
                "preprocessing": releases.preprocessing(tokenizer.encoding),
                "known_limits": releases.KNOWN_LIMITS,
            }
            folder = out.publish(manifest, describe)
        return MaterializeResult(
            metadata={
                "release": manifest["release_id"],
                "path": MetadataValue.path(str(folder)),
                "documents": manifest["documents"],
                "tokens": manifest["tokens"],
                "shards": len(shards),
                "bytes": manifest["bytes"],
                "removed since previous": table(["reason", "documents"],
                                                [[r, len(ids)] for r, ids in removed.items() if ids], empty="none"),
                "per contributor": table(["contributor", "documents", "tokens"],
                                         [[c["contributor_id"], c["documents"], c["tokens"]]
                                          for c in manifest["contributors"]], empty="none"),
            },
            check_results=[_check(difference)])

    return [training_release]


def _redacted(manifest: dict | None) -> list[str]:
    return [i for r in (manifest or {}).get("redactions", []) for i in r["document_ids"]]


def _check(difference: list[dict]) -> AssetCheckResult:
    return AssetCheckResult(
        check_name="tokens_match_ratios", passed=not difference, severity=AssetCheckSeverity.WARN,
        metadata={"differences": table(["contributor", "released tokens", "T_i in contribution_ratios",
                                        "tokens withdrawn or erased since"],
                                       [[d["contributor_id"], d["released_tokens"], d["ratio_tokens"], d["left_since"]]
                                        for d in difference], empty="none")})
