-- Every competing document, stored or new, of a touched text or of a text near one (`_decided_texts`), submitted at
-- `_since` or later: the documents the first-come decision decides, gathered in one pass over the documents (a join on
-- the hash key; the scan skips the row groups of documents all submitted before `_since`, most of the pool as documents
-- arrive in time order). The copies before `_since` are read only as keys, for their summary (summarized_documents.sql).
SELECT contributor_id, period, file, position, content_hash, hash_key, submitted_at, withdrawn_at, status, reason,
       duplicate_of, similarity, rule, filter_group, earns_from, FALSE AS incoming
FROM documents SEMI JOIN _decided_texts USING (hash_key) SEMI JOIN _since s ON submitted_at >= s.since
WHERE status IN ('accepted', 'duplicate', 'near_duplicate')
UNION ALL
SELECT contributor_id, period, file, position, content_hash, hash_key, submitted_at, withdrawn_at, status, reason,
       duplicate_of, similarity, rule, filter_group, earns_from, TRUE
FROM _incoming SEMI JOIN _decided_texts USING (hash_key) SEMI JOIN _since s ON submitted_at >= s.since
WHERE status IN ('accepted', 'duplicate', 'near_duplicate')
