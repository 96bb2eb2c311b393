-- What became of the submission's documents: documents and tokens per status ('withdrawn' for withdrawn uploads).
SELECT CASE WHEN withdrawn_at IS NULL THEN status ELSE 'withdrawn' END, count(*), coalesce(sum(tokens), 0)::BIGINT
FROM documents WHERE contributor_id = $contributor AND period = $period GROUP BY 1 ORDER BY 1
