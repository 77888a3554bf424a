-- Recording policy rules per number, queue and agent of a tenant (the
-- tenant's default lives in tenant_settings). The most specific rule
-- wins when a call is answered: agent, queue, number, tenant.

CREATE TABLE recording_policies (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    scope      TEXT NOT NULL CHECK (scope IN ('number', 'queue', 'agent')),
    target     TEXT NOT NULL,
    policy     TEXT NOT NULL CHECK (policy IN ('always', 'never', 'on_demand')),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, scope, target)
) STRICT;
