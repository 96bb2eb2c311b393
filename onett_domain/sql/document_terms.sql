-- The submission's documents take the terms of the upload they were read from (archive members are named
-- `<archive>/<member>`), with the instant those terms end (`_expiries`: file, submitted_at, terms_expire_at).
UPDATE documents d SET terms = u.terms, terms_expire_at = e.terms_expire_at
FROM uploads u JOIN _expiries e USING (file, submitted_at)
WHERE u.contributor_id = $contributor AND u.period = $period AND u.withdrawn_at IS NULL
  AND u.status IN ('accepted', 'partially accepted')
  AND d.contributor_id = $contributor AND d.period = $period AND d.withdrawn_at IS NULL
  AND (d.file = u.file OR starts_with(d.file, u.file || '/')) AND d.submitted_at = u.submitted_at
  AND (d.terms IS DISTINCT FROM u.terms OR d.terms_expire_at IS DISTINCT FROM e.terms_expire_at)
