-- Several nodes on one database (PostgreSQL, docs/scale-out.md): each
-- node keeps its own live calls, its agents' last statuses and its
-- heartbeat, so that a node starting up accounts only for what it left
-- behind, never for calls another node is carrying. A single process
-- (SQLite) is the node named ''.
ALTER TABLE live_calls ADD COLUMN node TEXT NOT NULL DEFAULT '';
ALTER TABLE agent_presence ADD COLUMN node TEXT NOT NULL DEFAULT '';
CREATE INDEX live_calls_node ON live_calls (node);

CREATE TABLE node_heartbeats (
    node TEXT PRIMARY KEY,
    at   TEXT COLLATE "C" NOT NULL
);
INSERT INTO node_heartbeats (node, at) SELECT '', at FROM process_heartbeat;
DROP TABLE process_heartbeat;
