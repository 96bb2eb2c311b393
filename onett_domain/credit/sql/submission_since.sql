-- The earliest submission time of the submission's documents as stored (withdrawn ones included). Everything a run
-- changes is the submission's, so a document submitted before it keeps its outcome (first_come_decision.sql); the
-- incoming documents' earliest time is taken in too once they are read (incoming_since.sql).
SELECT min(submitted_at) AS since FROM documents WHERE contributor_id = $contributor AND period = $period
