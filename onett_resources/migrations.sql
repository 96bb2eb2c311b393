-- Columns added after a table was first released (no-ops on a warehouse created from schema.sql). Runs after the
-- tables are renamed (warehouse.py) and before schema.sql.
ALTER TABLE IF EXISTS uploads ADD COLUMN IF NOT EXISTS notes VARCHAR DEFAULT '';
ALTER TABLE IF EXISTS uploads ADD COLUMN IF NOT EXISTS withdrawn_at TIMESTAMPTZ;
ALTER TABLE IF EXISTS documents ADD COLUMN IF NOT EXISTS language VARCHAR DEFAULT '';
ALTER TABLE IF EXISTS documents ADD COLUMN IF NOT EXISTS rule VARCHAR DEFAULT '';
ALTER TABLE IF EXISTS documents ADD COLUMN IF NOT EXISTS filter_group VARCHAR DEFAULT '';
ALTER TABLE IF EXISTS documents ADD COLUMN IF NOT EXISTS similarity DOUBLE;
ALTER TABLE IF EXISTS documents ADD COLUMN IF NOT EXISTS withdrawn_at TIMESTAMPTZ;
ALTER TABLE IF EXISTS documents ADD COLUMN IF NOT EXISTS earns_from TIMESTAMPTZ;
ALTER TABLE IF EXISTS payouts ADD COLUMN IF NOT EXISTS adjustment DECIMAL(38, 3) DEFAULT 0;
