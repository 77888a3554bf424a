-- Call recordings' metadata (the files live under the data dir).

CREATE TABLE recordings (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    call_id     TEXT NOT NULL,
    path        TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    size_bytes  BIGINT NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL
);

CREATE INDEX recordings_call ON recordings (tenant_id, call_id);
