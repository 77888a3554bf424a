-- Where a trunk's in-dialog requests (BYE, re-INVITE) go: auto, contact
-- or source (docs/sip.md, "NAT").
ALTER TABLE trunks ADD COLUMN in_dialog_target TEXT NOT NULL DEFAULT 'auto';
