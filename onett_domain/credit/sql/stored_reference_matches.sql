-- The submission's stored (withdrawn) documents that match reference text earn nothing.
UPDATE documents d SET status = 'reference', rule = 'reference_match', similarity = r.similarity,
       reason = CASE WHEN r.exact
                     THEN 'exact copy of text already known (submitted earlier, held by the data consumer, or public)'
                     ELSE 'near copy (similarity ' || round(r.similarity, 2) || ') of text already known (submitted '
                          || 'earlier, held by the data consumer, or public)' END,
       duplicate_of = 'reference:' || r.reference_id
FROM _reference_hits r
WHERE d.content_hash = r.content_hash AND d.contributor_id = $contributor AND d.period = $period
  AND d.status = 'accepted'
RETURNING d.position
