-- The stored documents' keys, where the first-come decision takes its summary of the copies before `_since`
-- (first_come_decision.sql): only the columns it reads, so the copies of a text held many times are never gathered
-- whole. The incoming documents are all submitted at `_since` or later.
SELECT contributor_id, period, file, position, hash_key, submitted_at, withdrawn_at, status FROM documents
