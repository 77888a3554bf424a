-- IVR prompts (docs/ivr.md, "Prompts"): uploaded sounds converted to
-- 8 kHz mono 16-bit WAV. The audio lives in the row beside its metadata:
-- a prompt is at most a few megabytes, and keeping it in the database
-- makes it reach every node of a cluster, go with the flows in a backup,
-- and disappear with its tenant, with no second store to keep in step.
CREATE TABLE prompts (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    size_bytes  BIGINT NOT NULL,
    source      TEXT NOT NULL, -- the uploaded file's format, as JSON (cti.AudioInfo)
    audio       BYTEA NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL,
    created_by  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);
