-- Competing texts equal or near to a reference document: the exact match, else the most similar near one
-- (ties by reference id).
SELECT content_hash, reference_id, similarity, exact FROM (
    SELECT content_hash, min(reference_id) AS reference_id, 1.0::DOUBLE AS similarity, TRUE AS exact
    FROM reference_documents JOIN _competing USING (content_hash) GROUP BY 1
    UNION ALL
    SELECT n.content_hash, arg_min(ref.reference_id, (-n.similarity, ref.reference_id)), max(n.similarity), FALSE
    FROM near_pairs n SEMI JOIN _competing USING (hash_key)
    JOIN reference_documents ref ON ref.content_hash = n.other_hash
    GROUP BY 1
) QUALIFY row_number() OVER (PARTITION BY content_hash ORDER BY exact DESC) = 1
