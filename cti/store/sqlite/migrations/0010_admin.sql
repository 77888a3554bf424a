-- Administration at runtime (docs/admin.md): users gain teams, skills and a
-- super-admin flag (disabling a user sets users.disabled_at, from 0020);
-- numbers, tenant settings and the audit log move into the database so
-- administrators change them without a restart.

-- teams: JSON array of strings; skills: JSON array of {"name","level"}.
ALTER TABLE users ADD COLUMN teams TEXT NOT NULL DEFAULT '[]';
ALTER TABLE users ADD COLUMN skills TEXT NOT NULL DEFAULT '[]';
ALTER TABLE users ADD COLUMN super_admin INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN updated_at TEXT NOT NULL DEFAULT '';

CREATE INDEX users_tenant_role ON users (tenant_id, role, username);

-- An existing install keeps someone who may create tenants: the admins of
-- its first tenant (the demo tenant of make run) become super-admins.
UPDATE users SET super_admin = 1
 WHERE role = 'admin'
   AND tenant_id = (SELECT id FROM tenants ORDER BY created_at, id LIMIT 1);

-- A DID and where its calls go. number_key is the number without a leading
-- "+": the same DID written two ways is one number, and it belongs to one
-- tenant only (inbound calls are matched on it before the tenant is known).
CREATE TABLE numbers (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    number     TEXT NOT NULL,
    number_key TEXT NOT NULL UNIQUE,
    route      TEXT NOT NULL CHECK (route IN ('extension', 'crm', 'queue', 'ivr')),
    extension  TEXT NOT NULL DEFAULT '',
    target     TEXT NOT NULL DEFAULT '',
    label      TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE INDEX numbers_tenant ON numbers (tenant_id, number_key);

-- One JSON document of per-tenant settings (cti.TenantSettings). The CRM
-- credentials in it are needed in the clear to call the CRM: protect the
-- database file like a key file.
CREATE TABLE tenant_settings (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants (id),
    settings   TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

-- Who changed what, when. No foreign keys: the log outlives what it names.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT NOT NULL,
    actor_id   TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    details    TEXT NOT NULL DEFAULT '{}',
    at         TEXT NOT NULL
) STRICT;

CREATE INDEX audit_log_tenant ON audit_log (tenant_id, seq);
