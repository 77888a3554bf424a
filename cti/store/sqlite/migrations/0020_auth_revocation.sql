-- Revocation (docs/security.md). token_epoch is copied into access tokens;
-- bumping it invalidates every token issued before. disabled_at (NULL:
-- enabled) keeps a disabled account from signing in and closes its
-- sessions within seconds.
ALTER TABLE users ADD COLUMN token_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN disabled_at TEXT;

-- Refresh tokens are rotated within a family and kept, marked used, until
-- they expire: presenting a used one is a replay and revokes the family.
-- Rows from before this migration form a family of one.
ALTER TABLE refresh_tokens ADD COLUMN family_id TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_tokens ADD COLUMN used_at TEXT;
UPDATE refresh_tokens SET family_id = id WHERE family_id = '';
CREATE INDEX refresh_tokens_family ON refresh_tokens (tenant_id, family_id);
