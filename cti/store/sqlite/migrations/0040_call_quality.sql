-- Call quality (docs/quality.md): one row per leg of a finished call with
-- its measured quality over the call. The record's JSON carries the same
-- summaries; the rows are what reports filter on ("calls whose caller's
-- line was poor this week") without decoding every record. Rewritten
-- with the record, in its transaction.
CREATE TABLE call_quality (
    tenant_id        TEXT NOT NULL,
    call_id          TEXT NOT NULL,
    leg_kind         TEXT NOT NULL,             -- sip | agent
    extension        TEXT NOT NULL DEFAULT '',  -- agent legs
    sip_call_id      TEXT NOT NULL DEFAULT '',  -- SIP legs
    samples          INTEGER NOT NULL,
    poor_samples     INTEGER NOT NULL,
    level            TEXT NOT NULL,             -- good | fair | poor (of the average MOS)
    mos_avg          REAL NOT NULL,
    mos_min          REAL NOT NULL,
    loss_pct_avg     REAL NOT NULL,
    loss_pct_max     REAL NOT NULL,
    jitter_ms_avg    REAL NOT NULL,
    rtt_ms_avg       REAL NOT NULL,
    PRIMARY KEY (tenant_id, call_id, leg_kind, extension, sip_call_id)
) STRICT;

CREATE INDEX call_quality_tenant_level ON call_quality (tenant_id, level, mos_min);
