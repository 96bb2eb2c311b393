-- The texts whose documents the first-come decision reads: the touched texts and the texts near them. Gathered once
-- as keys, for the documents decided (ranked_documents.sql) and the copies before them (summarized_documents.sql).
SELECT hash_key FROM _touched
UNION SELECT n.other_key FROM near_pairs n SEMI JOIN _touched USING (hash_key)
