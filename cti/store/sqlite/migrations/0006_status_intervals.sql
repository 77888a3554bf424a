-- Time in status. Every change of an agent's effective status (available,
-- away with a reason, wrap-up, busy elsewhere, ringing, on call) starts an
-- interval and ends the one before; offline time is not stored. Times are
-- Unix nanoseconds; ended_at is NULL while the interval is current. Rows
-- may arrive out of order: each write ends the interval that was open at
-- its time and starts one that lasts until the next known start.

CREATE TABLE agent_status_intervals (
    id         INTEGER PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    extension  TEXT NOT NULL,
    user_id    TEXT NOT NULL DEFAULT '',
    username   TEXT NOT NULL DEFAULT '',
    status     TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    started_at INTEGER NOT NULL,
    ended_at   INTEGER
) STRICT;

CREATE INDEX agent_status_intervals_time ON agent_status_intervals (tenant_id, started_at);
CREATE INDEX agent_status_intervals_agent ON agent_status_intervals (tenant_id, extension, started_at);

-- The process's last sign of life, so a crash's interrupted intervals end
-- when the process did, not when it started again.
CREATE TABLE process_heartbeat (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at TEXT NOT NULL
) STRICT;
