-- The new documents are inserted once, with their final status.
INSERT INTO documents BY NAME
SELECT i.* REPLACE (coalesce(c.status, i.status) AS status, coalesce(c.reason, i.reason) AS reason,
                    coalesce(c.duplicate_of, i.duplicate_of) AS duplicate_of,
                    CASE WHEN c.status IS NULL THEN i.similarity ELSE c.similarity END AS similarity,
                    coalesce(c.rule, i.rule) AS rule,
                    CASE WHEN c.status IS NULL THEN i.filter_group ELSE '' END AS filter_group,
                    CASE WHEN c.status IS NULL THEN i.earns_from ELSE c.earns_from END AS earns_from)
FROM _incoming i LEFT JOIN _credit c
  ON c.incoming AND c.contributor_id = i.contributor_id AND c.period = i.period AND c.file = i.file
 AND c.position = i.position
