-- Tokens newly credited per contributor and month: the 1T Club's API credit is granted for them once.
-- A document is granted in the first month it earns in (the later of its upload's month and the month its
-- earning began), if it earns at that month's end. A withdrawal, an erasure or expiring terms only end
-- earning later, so they never take a grant back. A text is granted once: a document equal or near to one that
-- earned before it (which it may have inherited the credit from when that one was withdrawn, or a re-upload of
-- the same text) is not granted again. A document is granted for its credited tokens: not its passages contributed
-- earlier, nor those handed on to it after that month.
WITH earning AS (
    SELECT contributor_id, content_hash, tokens, repeated_tokens, handed_on_tokens, handed_on_at, submitted_at, file, position, withdrawn_at, terms_expire_at,
           greatest(period, coalesce(date_trunc('month', timezone($tz, earns_from))::DATE, period)) AS first_month
    FROM documents WHERE status = 'accepted'
), earned AS (
    SELECT * REPLACE (tokens - coalesce(repeated_tokens, 0) - CASE WHEN handed_on_at >= first_end
                                                                THEN coalesce(handed_on_tokens, 0) ELSE 0 END AS tokens)
    FROM (SELECT *, timezone($tz, (first_month + INTERVAL 1 MONTH)::TIMESTAMP) AS first_end FROM earning)
), granted AS (
    SELECT * FROM earned
    WHERE first_month <= $through
      AND (withdrawn_at IS NULL OR withdrawn_at >= first_end)
      AND (terms_expire_at IS NULL OR terms_expire_at >= first_end)
), copies AS (
    SELECT content_hash AS content_hash, content_hash AS other_hash FROM granted
    UNION SELECT content_hash, other_hash FROM near_pairs
)
SELECT g.contributor_id, g.first_month, sum(g.tokens)::BIGINT AS tokens
FROM granted g
WHERE NOT EXISTS (
    SELECT 1 FROM copies c JOIN granted o ON o.content_hash = c.other_hash
    WHERE c.content_hash = g.content_hash
      AND (o.first_month, o.submitted_at, o.contributor_id, o.file, o.position)
        < (g.first_month, g.submitted_at, g.contributor_id, g.file, g.position)
)
GROUP BY ALL HAVING sum(g.tokens) > 0
ORDER BY g.first_month, g.contributor_id
