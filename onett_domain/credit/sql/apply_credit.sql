-- Only the stored documents whose outcome changed are updated (DuckDB rewrites every row an UPDATE touches).
UPDATE documents d SET status = c.status, reason = c.reason, duplicate_of = c.duplicate_of,
       similarity = c.similarity, rule = c.rule, filter_group = '', earns_from = c.earns_from
FROM _credit c
WHERE c.changed AND NOT c.incoming
  AND d.contributor_id = c.contributor_id AND d.period = c.period
  AND d.file = c.file AND d.position = c.position
  AND coalesce(d.withdrawn_at, 'infinity'::TIMESTAMPTZ) = c.gone
