-- Where each text new to the guard is held: the partitions to read it from, in reading order.
SELECT DISTINCT h.contributor_id, h.period, h.content_hash, i.text_id
FROM held h JOIN ids i USING (content_hash)
WHERE i.fresh
ORDER BY h.contributor_id, h.period, i.text_id
