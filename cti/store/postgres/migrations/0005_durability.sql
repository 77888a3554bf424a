-- Crash recovery: live calls' last known picture and agents' last status.

CREATE TABLE live_calls (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    record       TEXT NOT NULL,
    recording_id TEXT NOT NULL DEFAULT '',
    started_at   TEXT COLLATE "C" NOT NULL,
    seen_at      TEXT COLLATE "C" NOT NULL
);

CREATE TABLE agent_presence (
    tenant_id  TEXT NOT NULL,
    extension  TEXT NOT NULL,
    status     TEXT NOT NULL,
    change     TEXT NOT NULL,
    changed_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, extension)
);
