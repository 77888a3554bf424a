-- Which node delivers an endpoint's queue (cti/webhook/nodes.go): the
-- node named by lease_owner, until lease_until (unix nanoseconds).
ALTER TABLE webhook_endpoints ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_endpoints ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
