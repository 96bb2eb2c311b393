-- Their passages: one row per distinct key of a text, at its first occurrence, with the tokens of all of them (a
-- passage a text repeats is not a copy of earlier text).
INSERT INTO passage_texts BY NAME
SELECT n.text_id, n.content_hash, len(s.passages) AS passages, n.hash_key
FROM _passages_in s JOIN _passages_new n ON n.content_hash = s.content_hash AND n.row_key = s.row_key;
INSERT INTO passages
SELECT passage, text_id, min(ordinal), sum(tokens)
FROM (SELECT n.text_id, unnest(s.passages) AS passage, unnest(s.passage_tokens) AS tokens,
             generate_subscripts(s.passages, 1) AS ordinal
      FROM _passages_in s JOIN _passages_new n ON n.content_hash = s.content_hash AND n.row_key = s.row_key)
WHERE passage <> 0
GROUP BY passage, text_id
