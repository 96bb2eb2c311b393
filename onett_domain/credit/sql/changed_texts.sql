SELECT DISTINCT content_hash FROM _affected
