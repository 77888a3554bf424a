-- SIP trunks, install-wide (docs/admin.md).
CREATE TABLE trunks (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    address    TEXT NOT NULL,
    transport  TEXT NOT NULL DEFAULT 'udp',
    allow_from TEXT NOT NULL DEFAULT '[]', -- JSON array of IPs or CIDRs
    username   TEXT NOT NULL DEFAULT '',
    password   TEXT NOT NULL DEFAULT '',
    domain     TEXT NOT NULL DEFAULT '',
    register   BOOLEAN NOT NULL DEFAULT false,
    caller_id  TEXT NOT NULL DEFAULT '',
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL
);
