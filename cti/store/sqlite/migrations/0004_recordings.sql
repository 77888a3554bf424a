-- Call recordings: one stereo WAV per recorded call, under
-- <dataDir>/recordings/<tenant>/<id>.wav. Downloads look recordings up by
-- (tenant_id, id), so another tenant's id finds nothing.

CREATE TABLE recordings (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    call_id     TEXT NOT NULL,
    path        TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    size_bytes  INTEGER NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;

CREATE INDEX recordings_call ON recordings (tenant_id, call_id);
