-- Which node delivers an endpoint's queue (cti/webhook/nodes.go). Nodes
-- share a database only on PostgreSQL, whose twin of this file adds the
-- same columns; on SQLite they stay empty, kept so that both schemas are
-- one (cti/store/sqlstore serves both).
ALTER TABLE webhook_endpoints ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_endpoints ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
