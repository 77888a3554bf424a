-- Queues: the configuration of each tenant's call queues, as JSON (the
-- shape is cti.QueueConfig); names are unique per tenant.

CREATE TABLE queues (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL,
    config     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (tenant_id, name)
) STRICT;
