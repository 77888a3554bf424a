-- SIP trunks, install-wide (super-admins manage them; docs/admin.md). The
-- config file's trunks seed this table on a first start. password is
-- encrypted with the data dir's secrets.key when one is set.
CREATE TABLE trunks (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    address    TEXT NOT NULL,
    transport  TEXT NOT NULL DEFAULT 'udp',
    allow_from TEXT NOT NULL DEFAULT '[]', -- JSON array of IPs or CIDRs
    username   TEXT NOT NULL DEFAULT '',
    password   TEXT NOT NULL DEFAULT '',
    domain     TEXT NOT NULL DEFAULT '',
    register   INTEGER NOT NULL DEFAULT 0,
    caller_id  TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
