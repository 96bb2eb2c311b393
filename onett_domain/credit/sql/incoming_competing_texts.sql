-- The new documents' competing texts: their credit is decided below, with everything near them.
INSERT INTO _affected
SELECT DISTINCT content_hash, hash_key FROM _incoming WHERE status IN ('accepted', 'duplicate', 'near_duplicate')
