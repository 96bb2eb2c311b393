-- The documents whose text the recitation guard checks outputs against: every document earning for now (accepted,
-- its file in the landing zone, its terms running, not erased). Text the consumer holds (reference) and text earning
-- for nobody are left out: reciting them breaks no promise to a contributor.
SELECT d.content_hash, d.hash_key, d.contributor_id, d.period, d.file, d.position, coalesce(d.doc_id, '') AS doc_id
FROM documents d
WHERE d.status = 'accepted' AND d.withdrawn_at IS NULL AND d.erased_at IS NULL
  AND (d.terms_expire_at IS NULL OR d.terms_expire_at > now())
