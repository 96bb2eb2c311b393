-- The submission's competing documents as this run leaves them, stored and incoming: its rows in the key shards.
SELECT contributor_id, period, file, position, hash_key, submitted_at, withdrawn_at FROM documents
WHERE contributor_id = $contributor AND period = $period AND status IN ('accepted', 'duplicate', 'near_duplicate')
UNION ALL
SELECT contributor_id, period, file, position, hash_key, submitted_at, withdrawn_at FROM _incoming
WHERE status IN ('accepted', 'duplicate', 'near_duplicate')
