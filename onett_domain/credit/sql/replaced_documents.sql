-- The submission's documents and masking counts are replaced by its new ones (documents of withdrawn uploads stay).
DELETE FROM documents WHERE contributor_id = $contributor AND period = $period AND withdrawn_at IS NULL;
DELETE FROM pii_masks WHERE contributor_id = $contributor AND period = $period;
