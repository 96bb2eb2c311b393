-- The distinct texts of a submission's competing documents: those that passed the quality filters and match no
-- reference text (accepted or not, they compete for first-come credit).
SELECT DISTINCT content_hash, hash_key FROM documents
WHERE contributor_id = $contributor AND period = $period AND status IN ('accepted', 'duplicate', 'near_duplicate')
