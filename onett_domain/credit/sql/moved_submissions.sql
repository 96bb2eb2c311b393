-- The submissions whose statuses, duplicate links or earning starts changed (their funnels are refreshed).
SELECT DISTINCT contributor_id, period FROM _credit
WHERE status <> old_status OR duplicate_of <> old_duplicate_of OR earns_from IS DISTINCT FROM old_earns_from
   OR incoming
ORDER BY ALL
