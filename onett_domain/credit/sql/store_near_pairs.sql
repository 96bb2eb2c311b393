-- The verified pairs, stored both ways by content hash.
INSERT INTO near_pairs
WITH pairs AS (SELECT ta.content_hash AS a, tb.content_hash AS b, p.similarity
               FROM read_parquet($path) p JOIN minhash_texts ta ON ta.text_id = p.a
               JOIN minhash_texts tb ON tb.text_id = p.b)
SELECT a, b, similarity FROM pairs UNION ALL SELECT b, a, similarity FROM pairs
