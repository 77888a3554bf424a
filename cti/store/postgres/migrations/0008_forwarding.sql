-- Call forwarding per extension (cti.Forwarding as JSON).

CREATE TABLE forwarding (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    extension  TEXT NOT NULL,
    rules      TEXT NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, extension)
);
