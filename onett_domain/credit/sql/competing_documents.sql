-- Every document that competes for credit, stored or new, with its outcome so far: what the decisions of a backfill or
-- of the engine's shards are joined to (first_come.sql), read only where they join it; gathering the documents of
-- its touched texts whole (ranked_documents.sql) would copy most of the pool into memory.
SELECT contributor_id, period, file, position, content_hash, hash_key, submitted_at, withdrawn_at, status, reason,
       duplicate_of, similarity, rule, filter_group, earns_from, FALSE AS incoming
FROM documents
UNION ALL
SELECT contributor_id, period, file, position, content_hash, hash_key, submitted_at, withdrawn_at, status, reason,
       duplicate_of, similarity, rule, filter_group, earns_from, TRUE
FROM _incoming
