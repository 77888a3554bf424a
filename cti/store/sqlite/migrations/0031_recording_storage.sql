-- Where a recording's file is: on this server's disk ('local', path) or
-- in the configured object store ('s3', object_key). upload_pending marks
-- a file still to be uploaded, so a crash between the call's end and the
-- upload loses nothing; deleted_at is set when retention deleted the file.

ALTER TABLE recordings ADD COLUMN storage TEXT NOT NULL DEFAULT 'local';
ALTER TABLE recordings ADD COLUMN object_key TEXT NOT NULL DEFAULT '';
ALTER TABLE recordings ADD COLUMN upload_pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE recordings ADD COLUMN upload_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE recordings ADD COLUMN next_upload_at TEXT NOT NULL DEFAULT '';
ALTER TABLE recordings ADD COLUMN deleted_at TEXT NOT NULL DEFAULT '';

CREATE INDEX recordings_pending ON recordings (upload_pending, next_upload_at) WHERE upload_pending = 1;
CREATE INDEX recordings_created ON recordings (tenant_id, created_at) WHERE deleted_at = '';
