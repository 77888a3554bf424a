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
    samples          BIGINT NOT NULL,
    poor_samples     BIGINT NOT NULL,
    level            TEXT NOT NULL,             -- good | fair | poor (of the average MOS)
    mos_avg          DOUBLE PRECISION NOT NULL,
    mos_min          DOUBLE PRECISION NOT NULL,
    loss_pct_avg     DOUBLE PRECISION NOT NULL,
    loss_pct_max     DOUBLE PRECISION NOT NULL,
    jitter_ms_avg    DOUBLE PRECISION NOT NULL,
    rtt_ms_avg       DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant_id, call_id, leg_kind, extension, sip_call_id)
);

CREATE INDEX call_quality_tenant_level ON call_quality (tenant_id, level, mos_min);
