-- How many rows the first-come decision of the touched texts holds (first_come_decision.sql): each competing
-- document submitted at `_since` or later, and beside it each document from then on of a text near its own (the
-- pairs it compares one by one). Near copies multiply them: thirteen near copies of every text give each document
-- twelve pairs, most of such a backfill's rows.
WITH later AS (
    SELECT hash_key, count(*) AS documents
    FROM _ranked SEMI JOIN _decided_texts USING (hash_key) SEMI JOIN _since s ON submitted_at >= s.since
    WHERE status IN ('accepted', 'duplicate', 'near_duplicate')
    GROUP BY hash_key
), decided AS (
    SELECT * FROM later SEMI JOIN _touched USING (hash_key)
)
SELECT (SELECT coalesce(sum(documents), 0) FROM decided)
     + (SELECT coalesce(sum(d.documents * o.documents), 0)
        FROM decided d JOIN near_pairs n USING (hash_key) JOIN later o ON o.hash_key = n.other_key)
