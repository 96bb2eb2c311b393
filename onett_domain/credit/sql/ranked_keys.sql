-- The documents a backfill decides (`_ranked_documents`: ranked_documents.sql) as the keys the first-come decision
-- reads of them (first_come_decision.sql; the same as of the copies before them, summarized_documents.sql): gathered
-- once for all its slices.
SELECT contributor_id, period, file, position, hash_key, submitted_at, withdrawn_at, status
FROM _ranked_documents
