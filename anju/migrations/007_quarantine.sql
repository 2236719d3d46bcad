-- Quarantine with bounds: per device and hour, the first few rejected messages
-- are kept (payloads cut, their length kept); every rejection is counted by
-- device, hour and reason, so a flood is one line for the operator, not
-- thousands of rows.
ALTER TABLE rejected_messages ADD COLUMN payload_len integer;

CREATE TABLE rejected_counts (
    device_uid  text NOT NULL,           -- '' when no device could be named
    hour        timestamptz NOT NULL,
    reason      text NOT NULL,           -- the reason with its values taken out
    n           bigint NOT NULL,         -- rejected
    kept        bigint NOT NULL DEFAULT 0,  -- of which kept in rejected_messages
    PRIMARY KEY (device_uid, hour, reason)
);
CREATE INDEX rejected_counts_hour ON rejected_counts (hour);
