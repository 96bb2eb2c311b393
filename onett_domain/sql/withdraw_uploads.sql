-- The submission's read uploads that are no longer in the landing zone (`_present`: the uploads found now) become
-- withdrawn at $at. Rows already withdrawn are never touched again: the first withdrawal time stays.
UPDATE uploads u SET status = 'withdrawn', withdrawn_at = $at,
       notes = 'removed from the landing zone; it was ' || u.status
               || CASE WHEN coalesce(u.notes, '') <> '' THEN '; ' || u.notes ELSE '' END
WHERE u.contributor_id = $contributor AND u.period = $period AND u.withdrawn_at IS NULL
  AND u.status IN ('accepted', 'partially accepted')
  AND NOT EXISTS (SELECT 1 FROM _present n WHERE n.file = u.file AND n.mtime_ns = u.mtime_ns AND n.bytes = u.bytes)
RETURNING u.file;
