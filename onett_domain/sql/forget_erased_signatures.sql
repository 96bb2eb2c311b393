-- The near-duplicate index forgets the signatures of erased texts that no remaining document or reference text
-- holds (`_erased_hashes`). The near pairs found with them stay: two hashes and a similarity, no text, and the
-- credit decided with them must not move. erasure.py removes them from the buckets, then from minhash_texts.
CREATE OR REPLACE TEMP TABLE _forget AS
SELECT t.text_id, t.content_hash FROM minhash_texts t SEMI JOIN _erased_hashes e USING (content_hash)
WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.content_hash = t.content_hash AND d.erased_at IS NULL)
  AND NOT EXISTS (SELECT 1 FROM reference_documents r WHERE r.content_hash = t.content_hash);
