-- How many holdings (a passage in a document) passage credit ranks: those of documents submitted at `_since` or later.
SELECT count(*) FROM _passage_holders h
JOIN documents d ON d.hash_key = h.hash_key AND d.status IN ('accepted', 'duplicate', 'near_duplicate')
SEMI JOIN _since s ON d.submitted_at >= s.since
