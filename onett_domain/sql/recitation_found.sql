-- Where else the guard holds the texts the partitions read again hold now (`held`) or held when last read
-- (`indexed`): in partitions other than those (`asked`), whose text ids stand.
WITH wanted AS (SELECT hash_key FROM held UNION SELECT content_hash::UUID FROM indexed)
SELECT DISTINCT g.content_hash, g.contributor_id, g.period
FROM guard_documents g SEMI JOIN wanted USING (hash_key) ANTI JOIN asked USING (contributor_id, period)
