-- The documents' new passage figures, and whether they moved (their submissions' funnels are refreshed).
SELECT c.*, d.repeated_tokens IS DISTINCT FROM c.repeated_tokens OR d.handed_on_tokens IS DISTINCT FROM c.handed_on_tokens
            OR d.handed_on_at IS DISTINCT FROM c.handed_on_at OR d.passage_reason IS DISTINCT FROM c.passage_reason
            AS moved
FROM _passage_credit c JOIN documents d
  ON d.contributor_id = c.contributor_id AND d.period = c.period AND d.file = c.file AND d.position = c.position
 AND coalesce(d.withdrawn_at, 'infinity'::TIMESTAMPTZ) = c.gone
