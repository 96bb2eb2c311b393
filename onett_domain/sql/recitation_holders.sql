-- The documents the guard holds in the partitions asked for (`asked`: contributor_id, period), with the id the
-- operator's view names a document by.
SELECT g.content_hash, g.hash_key, g.contributor_id, g.period, g.file, g.position, g.doc_id,
       md5(g.contributor_id || chr(31) || g.file || chr(31) || g.position::VARCHAR) AS document_id
FROM guard_documents g SEMI JOIN asked USING (contributor_id, period)
