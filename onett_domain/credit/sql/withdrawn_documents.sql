-- Documents of the submission's withdrawn uploads take their upload's withdrawal time (they are then kept, no longer
-- earning). Archive members are named `<archive>/<member>`. An upload read again after it came back (the same
-- version, not withdrawn) keeps its documents in.
UPDATE documents d SET withdrawn_at = w.withdrawn_at
FROM (SELECT file, submitted_at, max(withdrawn_at) AS withdrawn_at FROM uploads
      WHERE contributor_id = $contributor AND period = $period AND status = 'withdrawn' GROUP BY ALL) w
WHERE d.contributor_id = $contributor AND d.period = $period AND d.withdrawn_at IS NULL
  AND (d.file = w.file OR starts_with(d.file, w.file || '/'))
  AND d.submitted_at = w.submitted_at
  AND NOT EXISTS (SELECT 1 FROM uploads s
                  WHERE s.contributor_id = $contributor AND s.period = $period AND s.withdrawn_at IS NULL
                    AND s.file = w.file AND s.submitted_at = w.submitted_at)
RETURNING d.position
