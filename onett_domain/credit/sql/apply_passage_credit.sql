-- Only the documents whose passage figures moved are updated; returns their submissions.
UPDATE documents d SET repeated_tokens = c.repeated_tokens, handed_on_tokens = c.handed_on_tokens,
       handed_on_at = c.handed_on_at, passage_reason = c.passage_reason
FROM _passage_moved c
WHERE c.moved AND d.contributor_id = c.contributor_id AND d.period = c.period AND d.file = c.file
  AND d.position = c.position AND coalesce(d.withdrawn_at, 'infinity'::TIMESTAMPTZ) = c.gone;
SELECT DISTINCT contributor_id, period FROM _passage_moved WHERE moved ORDER BY ALL
