-- Passage-level credit of every competing document of a seed text, from `_passage_holders` (who holds its
-- passages). Each passage belongs to its earliest holder in first-come order (submitted_at, contributor_id, file,
-- position, gone), whatever that holder's own status: in a later document it is repeated, and never earns, when
-- the consumer holds it (a reference text does), when an earlier holder is still in, or when the document left
-- before the last earlier holder did. When every earlier holder was withdrawn while the document was in, the
-- passage is handed on and earns from the last withdrawal.
-- A document's handed-on passages earn from the latest of their times (one time per document, never earlier than
-- it should). Documents that are not accepted earn nothing anyway and keep no passage figures.
-- As for first-come credit (first_come_decision.sql), only documents submitted at `_since` or later can move; the
-- holders before it count as one summary per passage.
-- `_judging` names the seed texts whose documents are judged (all of them, or a slice: a document is judged over its
-- own text's passages, each with all its holders).
WITH held AS (
    SELECT * FROM _passage_holders
    WHERE passage IN (SELECT passage FROM _passage_holders SEMI JOIN _judging USING (text_id))
), holders AS (
    SELECT h.passage, h.text_id, h.ordinal, h.tokens, d.contributor_id, d.period, d.file, d.position, d.status,
           d.submitted_at, d.withdrawn_at, coalesce(d.withdrawn_at, 'infinity'::TIMESTAMPTZ) AS gone
    FROM held h
    JOIN documents d ON d.hash_key = h.hash_key AND d.status IN ('accepted', 'duplicate', 'near_duplicate')
    SEMI JOIN _since s ON d.submitted_at >= s.since
), text_before AS (
    SELECT d.hash_key, count(*) AS holders, count(*) FILTER (WHERE d.withdrawn_at IS NULL) AS still_in,
           max(d.withdrawn_at) AS last_withdrawn_at
    FROM documents d SEMI JOIN held h USING (hash_key) SEMI JOIN _since s ON d.submitted_at < s.since
    WHERE d.status IN ('accepted', 'duplicate', 'near_duplicate')
    GROUP BY d.hash_key
), before AS (
    SELECT h.passage, sum(b.holders) AS holders, sum(b.still_in) AS still_in,
           max(b.last_withdrawn_at) AS last_withdrawn_at
    FROM held h JOIN text_before b USING (hash_key)
    GROUP BY h.passage
), known AS (
    SELECT DISTINCT passage FROM held SEMI JOIN reference_documents USING (content_hash)
), ranked AS (
    SELECT h.*, k.passage IS NOT NULL AS known,
           coalesce(b.holders, 0) + count(*) OVER earlier AS before,
           coalesce(b.still_in, 0) + count(*) FILTER (WHERE h.withdrawn_at IS NULL) OVER earlier AS still_in,
           greatest(b.last_withdrawn_at, max(h.withdrawn_at) OVER earlier) AS last_withdrawn_at
    FROM holders h LEFT JOIN known k USING (passage) LEFT JOIN before b USING (passage)
    WINDOW earlier AS (PARTITION BY h.passage ORDER BY h.submitted_at, h.contributor_id, h.file, h.position, h.gone
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
), judged AS (
    SELECT *, greatest(submitted_at, last_withdrawn_at) AS handed_at,
           CASE WHEN status <> 'accepted' OR NOT (known OR before > 0) THEN 'new'
                WHEN known OR still_in > 0 OR greatest(submitted_at, last_withdrawn_at) >= gone THEN 'repeated'
                ELSE 'handed_on' END AS verdict
    FROM ranked SEMI JOIN _judging USING (text_id)
), documents_judged AS (
    SELECT contributor_id, period, file, position, gone,
           count(*) AS passages,
           count(*) FILTER (WHERE verdict <> 'new') AS earlier,
           min(ordinal) FILTER (WHERE verdict <> 'new') AS example,
           coalesce(sum(tokens) FILTER (WHERE verdict = 'repeated'), 0)::BIGINT AS repeated_tokens,
           coalesce(sum(tokens) FILTER (WHERE verdict = 'handed_on'), 0)::BIGINT AS handed_on_tokens,
           max(handed_at) FILTER (WHERE verdict = 'handed_on') AS handed_on_at
    FROM judged GROUP BY ALL
)
SELECT contributor_id, period, file, position, gone, repeated_tokens, handed_on_tokens, handed_on_at,
       CASE WHEN earlier = 0 THEN ''
            ELSE earlier || ' of ' || passages || ' passages already contributed earlier (e.g. passage ' || example || ')'
                 || CASE WHEN handed_on_tokens > 0
                         THEN '; ' || handed_on_tokens || ' of their tokens earn from '
                              || strftime(handed_on_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M UTC')
                              || ', when every earlier copy had been withdrawn'
                         ELSE '' END END AS passage_reason
FROM documents_judged
