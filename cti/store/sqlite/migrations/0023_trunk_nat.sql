-- Trunks behind NAT and carriers' early media (docs/sip.md): where
-- in-dialog requests (BYE, re-INVITE) go — auto, contact or source — and
-- whether the agent's audio reaches the far end before the answer —
-- oneway or twoway.
ALTER TABLE trunks ADD COLUMN in_dialog_target TEXT NOT NULL DEFAULT 'auto';
ALTER TABLE trunks ADD COLUMN early_media TEXT NOT NULL DEFAULT 'oneway';
