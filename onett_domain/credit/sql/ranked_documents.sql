-- Every competing document, stored or new, of a touched text or of a text near one, submitted at `_since` or later:
-- the documents the first-come decision decides, gathered in one pass over the documents (a join on the hash key; the
-- scan skips the row groups of documents all submitted before `_since`, most of the pool as documents arrive in time
-- order). The copies before `_since` are read only as keys, for their summary (summarized_documents.sql).
WITH texts AS (
    SELECT hash_key FROM _touched
    UNION SELECT n.other_key FROM near_pairs n SEMI JOIN _touched USING (hash_key)
)
SELECT contributor_id, period, file, position, content_hash, hash_key, submitted_at, withdrawn_at, status, reason,
       duplicate_of, similarity, rule, filter_group, earns_from, FALSE AS incoming
FROM documents SEMI JOIN texts USING (hash_key) SEMI JOIN _since s ON submitted_at >= s.since
WHERE status IN ('accepted', 'duplicate', 'near_duplicate')
UNION ALL
SELECT contributor_id, period, file, position, content_hash, hash_key, submitted_at, withdrawn_at, status, reason,
       duplicate_of, similarity, rule, filter_group, earns_from, TRUE
FROM _incoming SEMI JOIN texts USING (hash_key) SEMI JOIN _since s ON submitted_at >= s.since
WHERE status IN ('accepted', 'duplicate', 'near_duplicate')
