-- Phonebook, API keys for integrations, and finished call records (see
-- the SQLite twin for the reasoning behind each table).

CREATE TABLE contacts (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    name       CITEXT NOT NULL,
    company    TEXT NOT NULL DEFAULT '',
    tier       TEXT NOT NULL DEFAULT '',
    notes      TEXT NOT NULL DEFAULT '',
    url        TEXT NOT NULL DEFAULT '',
    fields     TEXT NOT NULL DEFAULT '{}', -- JSON object of string values
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL,
    UNIQUE (tenant_id, id)
);

CREATE INDEX contacts_tenant_name ON contacts (tenant_id, name, id);

CREATE TABLE contact_numbers (
    tenant_id  TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    number     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, contact_id, number),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX contact_numbers_number ON contact_numbers (tenant_id, number);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL,
    created_at   TEXT COLLATE "C" NOT NULL,
    last_used_at TEXT COLLATE "C" NOT NULL DEFAULT '',
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);
CREATE INDEX api_keys_user ON api_keys (tenant_id, user_id);

-- No foreign key to tenants: a call record must never be lost because a
-- tenant row is missing.
CREATE TABLE calls (
    id          TEXT COLLATE "C" PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    direction   TEXT NOT NULL,
    from_number TEXT NOT NULL,
    to_number   TEXT NOT NULL,
    route       TEXT NOT NULL DEFAULT '',
    started_at  TEXT COLLATE "C" NOT NULL,
    ended_at    TEXT COLLATE "C" NOT NULL DEFAULT '',
    end_reason  TEXT NOT NULL DEFAULT '',
    disposition TEXT NOT NULL DEFAULT '',
    record      TEXT NOT NULL,
    updated_at  TEXT COLLATE "C" NOT NULL
);

CREATE INDEX calls_tenant_started ON calls (tenant_id, started_at, id);
