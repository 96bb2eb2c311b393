-- Candidate pairs: every indexed text sharing an LSH band bucket with a queried text (an equality join on the bucket).
SELECT DISTINCT least(a.text_id, b.text_id) AS a, greatest(a.text_id, b.text_id) AS b
FROM (SELECT bucket, text_id FROM minhash_buckets SEMI JOIN _query_ids USING (text_id)) a
JOIN minhash_buckets b ON a.bucket = b.bucket AND a.text_id <> b.text_id
