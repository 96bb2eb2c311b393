-- Where else the guard holds these texts (`wanted`: content_hash): in partitions other than those being read again
-- (`asked`), whose text ids stand.
SELECT DISTINCT g.content_hash, g.contributor_id, g.period
FROM guard_documents g SEMI JOIN wanted USING (content_hash) ANTI JOIN asked USING (contributor_id, period)
ORDER BY ALL
