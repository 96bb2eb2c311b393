-- Every competing document, stored or new, of a touched text or of a text near one: what the first-come decision
-- reads, gathered in one pass over the documents (a join on the hash key scans them all).
WITH texts AS (
    SELECT hash_key FROM _touched
    UNION SELECT n.other_key FROM near_pairs n SEMI JOIN _touched USING (hash_key)
)
SELECT contributor_id, period, file, position, content_hash, hash_key, submitted_at, withdrawn_at, status, reason,
       duplicate_of, similarity, rule, filter_group, earns_from, FALSE AS incoming
FROM documents SEMI JOIN texts USING (hash_key)
WHERE status IN ('accepted', 'duplicate', 'near_duplicate')
UNION ALL
SELECT contributor_id, period, file, position, content_hash, hash_key, submitted_at, withdrawn_at, status, reason,
       duplicate_of, similarity, rule, filter_group, earns_from, TRUE
FROM _incoming SEMI JOIN texts USING (hash_key)
WHERE status IN ('accepted', 'duplicate', 'near_duplicate')
