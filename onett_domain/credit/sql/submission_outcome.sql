-- What became of the submission's documents: documents and tokens per status ('withdrawn' for withdrawn uploads);
-- accepted documents' tokens as credited (less their passages contributed earlier).
SELECT CASE WHEN withdrawn_at IS NULL THEN status ELSE 'withdrawn' END, count(*),
       coalesce(sum(CASE WHEN status = 'accepted' THEN tokens - coalesce(repeated_tokens, 0) ELSE tokens END), 0)::BIGINT
FROM documents WHERE contributor_id = $contributor AND period = $period GROUP BY 1 ORDER BY 1
