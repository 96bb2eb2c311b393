-- The id of every text the partitions read again hold (`held`): the one their sources (`indexed`) or another
-- partition's (`elsewhere`) give it, for a text keeps its id while any document holds it; else, for a text new to
-- the guard (`fresh`), the next free ids from $next_id in the holders' order (partition, then content hash).
WITH known AS (
    SELECT content_hash, coalesce(min(text_id) FILTER (WHERE own), min(text_id)) AS text_id
    FROM (SELECT content_hash, text_id, true AS own FROM indexed
          UNION ALL SELECT content_hash, text_id, false FROM elsewhere)
    GROUP BY content_hash
), wanted AS (
    SELECT content_hash, min({'contributor_id': contributor_id, 'period': period}) AS first_held
    FROM held
    GROUP BY content_hash
)
SELECT w.content_hash, k.text_id, false AS fresh
FROM wanted w JOIN known k USING (content_hash)
UNION ALL
SELECT w.content_hash, $next_id - 1 + row_number() OVER (ORDER BY w.first_held, w.content_hash), true
FROM wanted w ANTI JOIN known k USING (content_hash)
