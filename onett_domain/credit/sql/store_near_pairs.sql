-- The verified pairs, stored both ways by content hash (and its key).
INSERT INTO near_pairs BY NAME
WITH pairs AS (SELECT ta.content_hash AS a, tb.content_hash AS b, p.similarity
               FROM read_parquet($path) p JOIN minhash_texts ta ON ta.text_id = p.a
               JOIN minhash_texts tb ON tb.text_id = p.b)
SELECT a AS content_hash, b AS other_hash, similarity, a::UUID AS hash_key, b::UUID AS other_key FROM pairs
UNION ALL
SELECT b, a, similarity, b::UUID, a::UUID FROM pairs
