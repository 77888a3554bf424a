-- IVR flows (docs/ivr.md): every saved change is a version; a flow's
-- current version is the one new calls run, and a rollback makes an
-- earlier one current again.
CREATE TABLE ivr_flow_versions (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    flow_id    TEXT NOT NULL,
    version    BIGINT NOT NULL,
    doc        TEXT NOT NULL, -- the flow as JSON (cti/ivr.Flow)
    created_at TEXT COLLATE "C" NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (tenant_id, flow_id, version)
);

CREATE TABLE ivr_flows (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    flow_id         TEXT NOT NULL,
    current_version BIGINT NOT NULL,
    name            TEXT NOT NULL,
    updated_at      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, flow_id)
);
