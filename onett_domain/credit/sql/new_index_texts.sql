-- The texts of `_index_in` not indexed yet get the next text ids, in content-hash order (a hash anti-join: probing a
-- key index row by row is much slower).
SELECT (SELECT coalesce(max(text_id), 0) FROM minhash_texts) + row_number() OVER (ORDER BY content_hash) AS text_id,
       content_hash, hash_key, row_key
FROM (SELECT content_hash, content_hash::UUID AS hash_key, min(row_key) AS row_key FROM _index_in GROUP BY content_hash)
ANTI JOIN minhash_texts USING (hash_key)
