"""club_membership: words contributed per contributor, against the 1T Club's threshold (onett_domain.membership)."""

from dagster import AssetExecutionContext, AssetsDefinition, MaterializeResult, ResourceParam, asset

from onett_assets.metadata import table
from onett_domain import membership
from onett_domain.policy import Policy
from onett_resources import ConsentRegistry, DocumentStore, Warehouse
from onett_resources.document_store import MissingStage
from onett_resources.warehouse import transaction

GROUP = "club"
WORD_COLUMNS = ["file", "position", "text"]


def membership_assets() -> list[AssetsDefinition]:
    @asset(group_name=GROUP, deps=["token_counts"], kinds={"duckdb"}, pool="duckdb")
    def club_membership(context: AssetExecutionContext, warehouse: Warehouse, document_store: DocumentStore,
                        consent: ConsentRegistry, policy: ResourceParam[Policy]) -> MaterializeResult:
        """Words contributed by each contributor (their documents earning now; a word is a whitespace-separated
        unit), who passed the threshold and who is a member. Documents read before words were counted get their
        words from the submission's Parquet parts first, so the figures cover the whole pool."""
        filled = 0
        with warehouse.connection() as conn, transaction(conn):
            for contributor_id, period in membership.uncounted_submissions(conn):
                try:
                    for texts in document_store.batches("filtered", contributor_id, period, WORD_COLUMNS):
                        counted = texts.with_columns(words=texts["text"].str.count_matches(r"\S+").cast(int))
                        filled += membership.fill_words(conn, contributor_id, period, counted)
                except MissingStage:
                    context.log.warning(f"{contributor_id} {period:%Y-%m}: no filtered parts, words not counted")
            rows = membership.progress(conn, policy.membership_words)
        members = consent.members()
        pending = {a.contributor_id for a in consent.applications(pending=True)}
        status = {p.contributor_id: ("member" if p.contributor_id in members else "applied"
                                     if p.contributor_id in pending else "eligible" if p.eligible else "")
                  for p in rows}
        return MaterializeResult(metadata={
            "threshold (words)": policy.membership_words,
            "eligible": sum(p.eligible for p in rows),
            "members": len(members),
            "documents given their word count now": filled,
            "words contributed": table(["contributor", "words", "progress", "status"],
                                       [[p.contributor_id, p.words, f"{p.share:.1%}", status[p.contributor_id]]
                                        for p in rows], empty="none"),
        })

    return [club_membership]
