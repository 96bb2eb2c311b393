-- Their signatures and band buckets stream from `_index_in` into the index.
INSERT INTO minhash_texts
SELECT n.text_id, n.content_hash, s.signature
FROM _index_in s JOIN _index_new n ON n.content_hash = s.content_hash AND n.row_key = s.row_key;
INSERT INTO minhash_buckets
SELECT unnest(s.bands), n.text_id
FROM _index_in s JOIN _index_new n ON n.content_hash = s.content_hash AND n.row_key = s.row_key;
