-- The pairs of the queried texts are found again from scratch.
DELETE FROM near_pairs WHERE content_hash IN (SELECT content_hash FROM _queries)
                          OR other_hash IN (SELECT content_hash FROM _queries)
