-- Every holder of a passage held by a seed text: the passage's rows in the passage index, with their texts' content
-- hashes. Kept apart (exact size known) so the documents are then probed by these few hashes, not hashed whole.
WITH held AS (
    SELECT DISTINCT passage FROM passages SEMI JOIN _passage_seeds USING (text_id)
)
SELECT p.passage, p.text_id, p.ordinal, p.tokens, t.content_hash, t.hash_key
FROM passages p SEMI JOIN held USING (passage) JOIN passage_texts t USING (text_id)
