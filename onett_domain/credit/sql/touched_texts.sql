-- Documents similar to a changed text may change too: one step along the near pairs is enough, because a
-- document's status depends only on the documents similar to it.
SELECT content_hash, hash_key FROM _changed
UNION SELECT n.other_hash, n.other_key FROM near_pairs n JOIN _changed USING (hash_key)
