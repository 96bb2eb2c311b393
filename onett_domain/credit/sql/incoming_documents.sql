-- The new documents as `documents` rows, judged by the quality filters and the reference match, with the terms of
-- the upload each was read from (`_upload_terms`; archive members are named `<archive>/<member>`): what first-come
-- credit starts from.
SELECT f.contributor_id, f.period, f.file, f.position, f.doc_id, f.submitted_at, f.content_hash,
       f.content_hash::UUID AS hash_key, f.raw_tokens,
       f.tokens, f.words, f.language, f.filter_group,
       CASE WHEN f.rejected_by <> '' THEN 'rejected' WHEN r.content_hash IS NOT NULL THEN 'reference'
            ELSE 'accepted' END AS status,
       CASE WHEN f.rejected_by <> '' OR r.content_hash IS NULL THEN f.reason
            WHEN r.exact THEN 'exact copy of text already known (submitted earlier, held by the data consumer, or public)'
            ELSE 'near copy (similarity ' || round(r.similarity, 2) || ') of text already known (submitted earlier, '
                 || 'held by the data consumer, or public)' END AS reason,
       CASE WHEN f.rejected_by <> '' OR r.content_hash IS NULL THEN f.rejected_by ELSE 'reference_match' END AS rule,
       CASE WHEN f.rejected_by <> '' OR r.content_hash IS NULL THEN ''
            ELSE 'reference:' || r.reference_id END AS duplicate_of,
       CASE WHEN f.rejected_by <> '' OR r.content_hash IS NULL THEN NULL ELSE r.similarity END AS similarity,
       NULL::TIMESTAMPTZ AS withdrawn_at, NULL::TIMESTAMPTZ AS earns_from,
       coalesce(t.terms, '') AS terms, t.terms_expire_at
FROM _filtered f LEFT JOIN _reference_hits r USING (content_hash)
LEFT JOIN _upload_terms t ON f.submitted_at = t.submitted_at AND (f.file = t.file OR starts_with(f.file, t.file || '/'))
