-- Every withdrawn document back to the state a freshly read one has (accepted, or rejected by the filters), so the
-- reference match and first-come credit below decide it exactly like the new documents.
UPDATE documents SET status = 'accepted', reason = '', duplicate_of = '', similarity = NULL, rule = '',
       filter_group = '', earns_from = NULL
WHERE contributor_id = $contributor AND period = $period AND withdrawn_at IS NOT NULL AND status <> 'rejected'
