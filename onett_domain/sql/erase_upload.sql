-- An erased upload: every version of the file with the erased bytes, once its submission was processed without it
-- (withdrawn), or never read at all. Its documents keep ids, hashes and token counts, so money stays explainable;
-- their text is destroyed elsewhere (Parquet parts, archive, releases).
UPDATE uploads SET status = 'erased',
       notes = $note || CASE WHEN coalesce(notes, '') <> '' THEN '; it was ' || status || ': ' || notes
                             ELSE '; it was ' || status END
WHERE contributor_id = $contributor AND file = $file AND sha256 = $sha256 AND status <> 'erased'
  AND (withdrawn_at IS NOT NULL OR status NOT IN ('accepted', 'partially accepted'));
UPDATE documents d SET erased_at = $at
FROM (SELECT DISTINCT period, file, submitted_at FROM uploads
      WHERE contributor_id = $contributor AND file = $file AND sha256 = $sha256 AND status = 'erased') u
WHERE d.contributor_id = $contributor AND d.period = u.period AND d.erased_at IS NULL
  AND (d.file = u.file OR starts_with(d.file, u.file || '/')) AND d.submitted_at = u.submitted_at
RETURNING md5(d.contributor_id || chr(31) || d.file || chr(31) || d.position::VARCHAR), d.content_hash
