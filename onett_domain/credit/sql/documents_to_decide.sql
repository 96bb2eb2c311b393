-- How many competing documents of the touched texts are decided again: those submitted at `_since` or later.
SELECT count(*) FROM _ranked SEMI JOIN _touched USING (hash_key) SEMI JOIN _since s ON submitted_at >= s.since
WHERE status IN ('accepted', 'duplicate', 'near_duplicate')
