-- An alert that reached nobody: a step with no contact, a step whose every
-- channel failed, or a critical alert nobody acknowledged in time. The board
-- shows it first, in red; the community's operators are told once
-- (unreached_told_at), through apprise directly, not the delivery queue.
ALTER TABLE alerts
    ADD COLUMN unreached_at      timestamptz,
    ADD COLUMN unreached_reason  text
        CHECK (unreached_reason IN ('no_contact', 'all_failed', 'unacknowledged')),
    ADD COLUMN unreached_detail  text,
    ADD COLUMN unreached_told_at timestamptz;
CREATE INDEX alerts_unreached_untold ON alerts (unreached_at)
    WHERE state = 'open' AND unreached_at IS NOT NULL AND unreached_told_at IS NULL;

-- Minutes a critical alert may stay unacknowledged before the operators are
-- told, per community (NULL: the router's default, 5 minutes).
ALTER TABLE communities
    ADD COLUMN unacked_critical_s integer CHECK (unacked_critical_s IS NULL OR unacked_critical_s > 0);
