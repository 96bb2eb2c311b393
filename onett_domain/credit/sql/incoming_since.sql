-- The incoming documents' earliest submission time is taken in too (submission_since.sql).
UPDATE _since SET since = least(since, (SELECT min(submitted_at) FROM _incoming))
