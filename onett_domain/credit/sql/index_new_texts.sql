-- Their signatures stream from `_index_in` into the index (their band buckets into the shards: bucket_index.py).
INSERT INTO minhash_texts BY NAME
SELECT n.text_id, n.content_hash, s.signature, n.hash_key
FROM _index_in s JOIN _index_new n ON n.content_hash = s.content_hash AND n.row_key = s.row_key;
