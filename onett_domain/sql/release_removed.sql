-- Documents of the previous release (`_previous_ids`) that are not in this one, with why: erased, withdrawn, terms
-- expired, or no longer credited (an earlier copy was processed since, or the file was replaced).
WITH current AS (SELECT md5(contributor_id || chr(31) || file || chr(31) || position::VARCHAR) AS document_id
                 FROM documents WHERE erased_at IS NULL AND withdrawn_at IS NULL AND $earning),
gone AS (SELECT p.document_id FROM _previous_ids p ANTI JOIN current c USING (document_id)),
known AS (SELECT md5(contributor_id || chr(31) || file || chr(31) || position::VARCHAR) AS document_id,
                 erased_at, withdrawn_at, terms_expire_at
          FROM documents WHERE withdrawn_at IS NOT NULL OR terms_expire_at IS NOT NULL OR erased_at IS NOT NULL
                            OR status <> 'accepted')
SELECT g.document_id,
       CASE WHEN k.erased_at IS NOT NULL THEN 'erased'
            WHEN k.withdrawn_at IS NOT NULL THEN 'withdrawn'
            WHEN k.terms_expire_at IS NOT NULL AND k.terms_expire_at < $end THEN 'expired'
            ELSE 'no_longer_credited' END AS reason
FROM gone g LEFT JOIN known k USING (document_id)
ORDER BY reason, g.document_id
