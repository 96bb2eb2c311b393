-- The competing documents submitted before `_since` of the touched texts and of the texts near them
-- (`_decided_texts`), as keys only: what the first-come decision reads of them is one summary per text
-- (first_come_decision.sql), so the copies of a text held many times are never gathered whole. The incoming documents
-- are all submitted at `_since` or later.
SELECT contributor_id, period, file, position, hash_key, submitted_at, withdrawn_at, status
FROM documents SEMI JOIN _decided_texts USING (hash_key) SEMI JOIN _since s ON submitted_at < s.since
WHERE status IN ('accepted', 'duplicate', 'near_duplicate')
