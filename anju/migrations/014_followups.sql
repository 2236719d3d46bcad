-- Follow-ups: once an alert is acknowledged or resolved, the people already told
-- (a delivered delivery of the alert) hear who took it, and later the outcome.
-- They are deliveries like any other (purpose 'followup', keys a<id>-ack-c<contact>
-- and a<id>-res-c<contact>), queued by the router when it sees an acknowledged or
-- resolved alert whose follow-ups are not queued yet; the column below says they
-- are (written by alerts.store, with an alert_events 'followup' row).
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_purpose_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_purpose_check
    CHECK (purpose IN ('alert', 'summary', 'followup'));

ALTER TABLE alerts
    ADD COLUMN followup_ack_at timestamptz,     -- acknowledgement follow-ups queued
    ADD COLUMN followup_res_at timestamptz;     -- resolution follow-ups queued

-- Alerts closed before follow-ups existed are not followed up now, days later.
UPDATE alerts SET followup_ack_at = now() WHERE state <> 'open';
UPDATE alerts SET followup_res_at = now() WHERE state = 'resolved';

-- What the router looks for: few rows, as follow-ups are queued moments after a change.
CREATE INDEX alerts_followup_due ON alerts (id)
    WHERE (state <> 'open' AND followup_ack_at IS NULL)
       OR (state = 'resolved' AND followup_res_at IS NULL);
