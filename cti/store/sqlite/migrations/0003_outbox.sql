-- The webhook outbox (cti/webhook, docs/webhooks.md).
--
-- Unlike 0001, times here are INTEGER unix nanoseconds (0 = none): the
-- delivery workers compare them on every scan, and integers keep the hot
-- rows and indexes small.

-- A tenant's receiver. config is the JSON of webhook.Config, credentials
-- for the receiver included; secret is the whsec_ signing secret. Both are
-- stored as is because every request needs them in the clear (a hash
-- cannot sign); protect the database file like a key file.
CREATE TABLE webhook_endpoints (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    config       TEXT NOT NULL,
    secret       TEXT NOT NULL,
    -- Worker state: Retry-After pause and consecutive failures.
    paused_until INTEGER NOT NULL DEFAULT 0,
    failures     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id, id);

-- One row per (event, endpoint): each endpoint has its own queue, and a
-- row carries its event whole, so publishing writes a single row per
-- endpoint (few pages per commit) and delivering needs no join. seq is the
-- publication order; AUTOINCREMENT keeps it from ever being reused, so the
-- public id "dlv_<seq>" always names the same delivery. data comes last:
-- a large record spills into overflow pages that scans then never read.
CREATE TABLE webhook_deliveries (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id  TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    tenant_id    TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    call_id      TEXT NOT NULL,
    occurred_at  INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'failed', 'delivered', 'parked')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      INTEGER NOT NULL,
    last_at      INTEGER NOT NULL DEFAULT 0,
    last_code    INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    delivered_at INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    data         BLOB NOT NULL
) STRICT;

-- The two partial indexes split the rows by status and together cover all
-- of them. The queue, which a worker walks in order, holds the undelivered
-- rows; a new row enters only this one. Delivered and parked rows are
-- found here, for the API and for pruning.
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (endpoint_id, seq)
    WHERE status IN ('pending', 'failed');
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (endpoint_id, status, seq)
    WHERE status IN ('delivered', 'parked');

-- Requests made to rate-limited endpoints, so that a restart does not
-- reset the day's budget. Pruned after a day.
CREATE TABLE webhook_requests (
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    sent_at     INTEGER NOT NULL
) STRICT;

CREATE INDEX webhook_requests_endpoint ON webhook_requests (endpoint_id, sent_at);
