-- Revocation (docs/security.md): token epochs, disabled accounts, refresh
-- token families.
ALTER TABLE users ADD COLUMN token_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN disabled_at TEXT COLLATE "C";

ALTER TABLE refresh_tokens ADD COLUMN family_id TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_tokens ADD COLUMN used_at TEXT COLLATE "C";
UPDATE refresh_tokens SET family_id = id WHERE family_id = '';
CREATE INDEX refresh_tokens_family ON refresh_tokens (tenant_id, family_id);
