-- The new documents that passed the quality filters compete too.
INSERT INTO _competing SELECT DISTINCT content_hash, content_hash::UUID FROM _filtered WHERE rejected_by = ''
