-- The submission's stored (withdrawn) documents that match reference text earn nothing.
UPDATE documents d SET status = 'reference', rule = 'reference_match', similarity = r.similarity,
       reason = CASE WHEN r.exact
                     THEN 'text the consumer already has or that is public (' || r.reference_id || ')'
                     ELSE 'near copy (similarity ' || round(r.similarity, 2) || ') of text the consumer already has '
                          || 'or that is public (' || r.reference_id || ')' END,
       duplicate_of = 'reference:' || r.reference_id
FROM _reference_hits r
WHERE d.content_hash = r.content_hash AND d.contributor_id = $contributor AND d.period = $period
  AND d.status = 'accepted'
RETURNING d.position
