-- The pairs of the queried texts are found again from scratch.
DELETE FROM near_pairs WHERE hash_key IN (SELECT hash_key FROM _queries)
                          OR other_key IN (SELECT hash_key FROM _queries)
