-- The first-come decision (`_decision`: first_come_decision.sql, run here or on the engine's shards) beside each
-- document's outcome so far (`_outcomes`: the documents decided, or every competing document where they were not
-- gathered whole): only what changed is updated, and the incoming documents are inserted with it.
SELECT c.contributor_id, c.period, c.file, c.position, coalesce(c.withdrawn_at, 'infinity'::TIMESTAMPTZ) AS gone,
       d.incoming, c.earns_from, d.status AS old_status, d.reason AS old_reason, d.duplicate_of AS old_duplicate_of,
       d.similarity AS old_similarity, d.rule AS old_rule, d.filter_group AS old_filter_group,
       d.earns_from AS old_earns_from, c.status, c.reason, c.duplicate_of, c.similarity, c.rule,
       d.incoming OR c.status <> d.status OR c.reason <> d.reason OR c.duplicate_of <> d.duplicate_of
       OR c.similarity IS DISTINCT FROM d.similarity OR c.rule <> d.rule OR d.filter_group <> ''
       OR c.earns_from IS DISTINCT FROM d.earns_from AS changed
FROM _decision c JOIN _outcomes d
  ON d.contributor_id = c.contributor_id AND d.period = c.period AND d.file = c.file AND d.position = c.position
 AND d.withdrawn_at IS NOT DISTINCT FROM c.withdrawn_at AND d.status IN ('accepted', 'duplicate', 'near_duplicate')
