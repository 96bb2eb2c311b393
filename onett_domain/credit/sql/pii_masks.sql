-- How much personal data was masked, per file and kind (counts only, never the values).
INSERT INTO pii_masks BY NAME
SELECT contributor_id, period, file, kind, values_masked FROM (
    UNPIVOT (SELECT contributor_id, period, file,
                    sum(pii_rrn)::BIGINT AS rrn, sum(pii_phone)::BIGINT AS phone, sum(pii_email)::BIGINT AS email,
                    sum(pii_card)::BIGINT AS card, sum(pii_account)::BIGINT AS account
             FROM _filtered GROUP BY ALL)
    ON rrn, phone, email, card, account INTO NAME kind VALUE values_masked
) WHERE values_masked > 0
