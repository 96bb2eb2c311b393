-- The texts whose passage credit may move: every text holding a passage of a text first-come credit looked at
-- (`_touched`). A passage's credit depends only on which documents hold it and when they were in.
SELECT DISTINCT h.text_id
FROM passages h
WHERE h.passage IN (SELECT p.passage FROM passages p JOIN passage_texts t USING (text_id)
                    SEMI JOIN _touched USING (hash_key))
