-- The PostgreSQL twin of cti/store/sqlite/migrations: the same tables,
-- columns and stored forms, so cti/store/sqlstore's statements serve both.
-- Times are UTC text in a fixed-width RFC 3339 layout with nanoseconds
-- (sqlstore.FormatTime), compared byte-wise (COLLATE "C") so that text
-- order is time order whatever the database's locale. Case-insensitive
-- names are citext (SQLite: COLLATE NOCASE).

CREATE EXTENSION IF NOT EXISTS citext;

CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    -- citext so "Alice" and "alice" cannot be two different logins.
    username      CITEXT NOT NULL,
    display_name  TEXT NOT NULL DEFAULT '',
    extension     TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL DEFAULT '',
    created_at    TEXT COLLATE "C" NOT NULL,
    UNIQUE (tenant_id, username),
    -- Target of the composite foreign key below: a token can only point at a
    -- user of its own tenant.
    UNIQUE (tenant_id, id)
);

-- Users without an extension (admins, API users) must not collide on ''.
CREATE UNIQUE INDEX users_tenant_extension
    ON users (tenant_id, extension) WHERE extension <> '';

CREATE TABLE refresh_tokens (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    expires_at TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX refresh_tokens_user ON refresh_tokens (tenant_id, user_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);
