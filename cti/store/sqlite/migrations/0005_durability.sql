-- Crash recovery. A live call's last known picture (its record so far, as
-- JSON) is kept until its final record is stored in the same transaction
-- that removes it; whatever is left at start was cut by a crash. An
-- agent's last published status is kept so agents signed in when the
-- process died can be signed out at the next start.

CREATE TABLE live_calls (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    record       TEXT NOT NULL,
    recording_id TEXT NOT NULL DEFAULT '',
    started_at   TEXT NOT NULL,
    seen_at      TEXT NOT NULL
) STRICT;

CREATE TABLE agent_presence (
    tenant_id  TEXT NOT NULL,
    extension  TEXT NOT NULL,
    status     TEXT NOT NULL,
    change     TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, extension)
) STRICT;
