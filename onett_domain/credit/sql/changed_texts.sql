SELECT DISTINCT content_hash, hash_key FROM _affected
