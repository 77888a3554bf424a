-- Phonebook, API keys for integrations, and finished call records.
-- Every table carries tenant_id and every query filters on it.

CREATE TABLE contacts (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    -- NOCASE so the phonebook sorts (and pages) the way people read it.
    name       TEXT NOT NULL COLLATE NOCASE,
    company    TEXT NOT NULL DEFAULT '',
    tier       TEXT NOT NULL DEFAULT '',
    notes      TEXT NOT NULL DEFAULT '',
    url        TEXT NOT NULL DEFAULT '',
    fields     TEXT NOT NULL DEFAULT '{}', -- JSON object of string values
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (tenant_id, id)
) STRICT;

-- Keyset pagination by (name, id) within a tenant.
CREATE INDEX contacts_tenant_name ON contacts (tenant_id, name, id);

-- A contact's numbers, E.164. Screen pop looks callers up here on every
-- ringing call, hence the (tenant_id, number) index.
CREATE TABLE contact_numbers (
    tenant_id  TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    number     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, contact_id, number),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX contact_numbers_number ON contact_numbers (tenant_id, number);

-- API keys of technical users: rbk_<id>_<secret>; only the SHA-256 of the
-- whole key is kept.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT NOT NULL DEFAULT '',
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);
CREATE INDEX api_keys_user ON api_keys (tenant_id, user_id);

-- Finished calls. record is the whole multi-level record (cti.CallRecord
-- as JSON, the same document webhooks carry); the columns beside it are
-- what lists filter and sort on. No foreign key to tenants: a call record
-- must never be lost because a tenant row is missing.
CREATE TABLE calls (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    direction   TEXT NOT NULL,
    from_number TEXT NOT NULL,
    to_number   TEXT NOT NULL,
    route       TEXT NOT NULL DEFAULT '',
    started_at  TEXT NOT NULL,
    ended_at    TEXT NOT NULL DEFAULT '',
    end_reason  TEXT NOT NULL DEFAULT '',
    disposition TEXT NOT NULL DEFAULT '',
    record      TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;

-- Newest-first keyset pagination within a tenant, with a time range.
CREATE INDEX calls_tenant_started ON calls (tenant_id, started_at, id);
