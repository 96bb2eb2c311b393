-- The next sources of the partitions read again: each document the guard holds there with its text's id, but for
-- the new texts not read (`unread`).
SELECT i.text_id, h.content_hash, h.contributor_id, h.period, h.document_id, h.file, h.position, h.doc_id
FROM holders h JOIN ids i USING (content_hash) ANTI JOIN unread u ON u.text_id = i.text_id
ORDER BY h.contributor_id, h.period, h.content_hash, h.file, h.position
