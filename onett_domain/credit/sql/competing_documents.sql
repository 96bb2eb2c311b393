-- Every document that competes for credit, stored or new, with the columns the decision reads: the view a large
-- submission (a backfill) is decided on, read where the decision joins it; gathering the documents of its touched
-- texts first (ranked_documents.sql) would copy most of the pool into memory.
SELECT contributor_id, period, file, position, content_hash, hash_key, submitted_at, withdrawn_at, status, reason,
       duplicate_of, similarity, rule, filter_group, earns_from, FALSE AS incoming
FROM documents
UNION ALL
SELECT contributor_id, period, file, position, content_hash, hash_key, submitted_at, withdrawn_at, status, reason,
       duplicate_of, similarity, rule, filter_group, earns_from, TRUE
FROM _incoming
