-- The documents of a month's training release: those earning in the month (onett_domain.earning), minus any
-- withdrawn or erased since (their text has left, and data moves only while its contributor lets it).
-- `document_id` names a document publicly and stably: an MD5 of its identity (contributor, file, position), never
-- of its text. `credited_tokens`: what it counts toward the month's T_i (its tokens less passages contributed
-- earlier, which stay in its text).
SELECT md5(contributor_id || chr(31) || file || chr(31) || position::VARCHAR) AS document_id,
       contributor_id, period, file, position, tokens, $credited AS credited_tokens, language, content_hash, submitted_at,
       coalesce(terms, '') AS terms, terms_expire_at
FROM documents
WHERE erased_at IS NULL AND withdrawn_at IS NULL AND $earning
