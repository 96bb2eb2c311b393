-- The first-come decision for every competing document of a touched text, from the documents' keys alone (what the
-- engine's shard jobs hold: key_shards.py). Documents are ordered by (submitted_at, contributor_id, file, position,
-- gone); `gone` (withdrawn_at, or infinity while the file is in) only tells a withdrawn upload from a later one of
-- the same file and time. A document is a duplicate when an earlier document has the same text (exact) or is near
-- it, paid or not; it is accepted when there is none, or when every earlier one has been withdrawn, and then earns
-- from the last of their withdrawals (never retroactively).
-- A document's outcome depends only on earlier documents, and everything a run changes is its submission's, submitted
-- at `_since` or later: only documents from then on are decided again. The copies before it count as one summary per
-- text (the earliest, how many are still in, the last withdrawal), so a text held many times costs a row per copy
-- read, not a decision per copy, and a near pair not the product of both texts' copies.
-- `_deciding` names the texts whose documents are decided (every touched text, or a slice or shard of them); `_ranked`
-- holds those documents and their near texts' (earlier ones too, or not); `_summarized` the competing documents whose
-- keys the summary reads.
WITH texts AS (
    SELECT hash_key FROM _deciding UNION SELECT n.other_key FROM near_pairs n SEMI JOIN _deciding USING (hash_key)
), later AS (
    SELECT d.contributor_id, d.period, d.file, d.position, d.hash_key, d.submitted_at, d.withdrawn_at,
           coalesce(d.withdrawn_at, 'infinity'::TIMESTAMPTZ) AS gone
    FROM _ranked d SEMI JOIN texts USING (hash_key) SEMI JOIN _since s ON d.submitted_at >= s.since
    WHERE d.status IN ('accepted', 'duplicate', 'near_duplicate')
), docs AS (
    SELECT * FROM later SEMI JOIN _deciding USING (hash_key)
), before AS (
    SELECT e.hash_key, min((e.submitted_at, e.contributor_id, e.file, e.position)) AS first,
           count(*) FILTER (WHERE e.withdrawn_at IS NULL) AS still_in, max(e.withdrawn_at) AS last_withdrawn_at
    FROM _summarized e SEMI JOIN texts USING (hash_key) SEMI JOIN _since s ON e.submitted_at < s.since
    WHERE e.status IN ('accepted', 'duplicate', 'near_duplicate')
    GROUP BY e.hash_key
), exact AS (
    -- copies of the same text: the summary of those before `_since`, then the documents before each one in
    -- submission order (a window, not a join: a text uploaded k times costs k rows, not k squared)
    SELECT d.contributor_id, d.period, d.file, d.position, d.gone,
           CASE WHEN b.first IS NULL
                THEN first_value((FALSE, d.submitted_at, d.contributor_id, d.file, d.position, 1.0::DOUBLE))
                         OVER earlier
                ELSE (FALSE, b.first[1], b.first[2], b.first[3], b.first[4], 1.0::DOUBLE) END AS first,
           coalesce(b.still_in, 0) + count(*) FILTER (WHERE d.withdrawn_at IS NULL) OVER earlier AS still_in,
           greatest(b.last_withdrawn_at, max(d.withdrawn_at) OVER earlier) AS last_withdrawn_at
    FROM docs d LEFT JOIN before b USING (hash_key)
    WINDOW earlier AS (PARTITION BY d.hash_key ORDER BY d.submitted_at, d.contributor_id, d.file, d.position, d.gone
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
), near_docs AS MATERIALIZED (
    -- each document beside the texts near it, joined first: the earlier-than comparison below then filters these
    -- pairs, where DuckDB could otherwise join every document with every other on it before the near pairs
    SELECT d.*, n.other_key, n.similarity FROM docs d JOIN near_pairs n ON n.hash_key = d.hash_key
), near_each AS (
    -- the near texts' documents before each one: their summary from before `_since` (all earlier), and one by one
    -- the later ones
    SELECT d.contributor_id, d.period, d.file, d.position, d.gone,
           (TRUE, b.first[1], b.first[2], b.first[3], b.first[4], d.similarity) AS first, b.still_in,
           b.last_withdrawn_at
    FROM near_docs d JOIN before b ON b.hash_key = d.other_key
    UNION ALL
    SELECT d.contributor_id, d.period, d.file, d.position, d.gone,
           (TRUE, e.submitted_at, e.contributor_id, e.file, e.position, d.similarity),
           CASE WHEN e.withdrawn_at IS NULL THEN 1 ELSE 0 END, e.withdrawn_at
    FROM near_docs d JOIN later e ON e.hash_key = d.other_key
    WHERE (e.submitted_at, e.contributor_id, e.file, e.position, e.gone)
        < (d.submitted_at, d.contributor_id, d.file, d.position, d.gone)
), near AS (
    SELECT contributor_id, period, file, position, gone, min(first) AS first, sum(still_in) AS still_in,
           max(last_withdrawn_at) AS last_withdrawn_at
    FROM near_each GROUP BY ALL
), earlier AS (
    -- an exact copy before it decides over any near one
    SELECT contributor_id, period, file, position, gone,
           coalesce(x.first, n.first) AS first,
           coalesce(x.still_in, 0) + coalesce(n.still_in, 0) AS still_in,
           greatest(x.last_withdrawn_at, n.last_withdrawn_at) AS last_withdrawn_at
    FROM exact x FULL JOIN near n USING (contributor_id, period, file, position, gone)
    WHERE x.first IS NOT NULL OR n.first IS NOT NULL
), decided AS (
    SELECT d.*, x.first,
           CASE WHEN x.first IS NULL THEN d.submitted_at
                WHEN x.still_in = 0 AND greatest(d.submitted_at, x.last_withdrawn_at) < d.gone
                    THEN greatest(d.submitted_at, x.last_withdrawn_at) END AS earns_from
    FROM docs d LEFT JOIN earlier x USING (contributor_id, period, file, position, gone)
)
SELECT contributor_id, period, file, position, withdrawn_at, earns_from,
       CASE WHEN earns_from IS NOT NULL THEN 'accepted'
            WHEN NOT first[1] THEN 'duplicate' ELSE 'near_duplicate' END AS status,
       CASE WHEN first IS NULL THEN ''
            -- Another contributor's text reads exactly like the consumer's: a reason is no oracle on who holds what.
            ELSE (CASE WHEN NOT first[1] THEN 'exact copy' ELSE 'near copy (similarity '
                       || round(first[6], 2) || ')' END)
                || (CASE WHEN first[3] = contributor_id
                         THEN ' of your earlier document ' || first[4] || ' #' || first[5]
                         ELSE ' of text already known (submitted earlier, held by the data consumer, or public)'
                    END)
                || (CASE WHEN earns_from IS NOT NULL
                         THEN '; every earlier copy was withdrawn, so this one earns from then on'
                         ELSE '' END) END AS reason,
       CASE WHEN first IS NULL THEN '' ELSE first[3] || '/' || first[4] || '#' || first[5] END AS duplicate_of,
       CASE WHEN first IS NULL THEN NULL ELSE first[6] END AS similarity,
       CASE WHEN first IS NULL OR earns_from IS NOT NULL THEN ''
            WHEN NOT first[1] THEN 'exact_dedup' ELSE 'near_dedup' END AS rule
FROM decided
