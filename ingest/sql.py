"""The ingest service's SQL, in one place."""

# Staging table for one batch: epoch microseconds keep the COPY text cheap to
# write, and the conversion to timestamptz in SQL is exact.
CREATE_STAGING = """
CREATE TEMPORARY TABLE IF NOT EXISTS staging_readings (
    ts_us bigint, seq bigint, value double precision, device_id integer, kind smallint
) ON COMMIT DELETE ROWS
"""

COPY_STAGING = "COPY staging_readings (ts_us, seq, value, device_id, kind) FROM STDIN"

# ON CONFLICT on the idempotency key: a redelivered or re-sent reading adds no row.
INSERT_READINGS = """
INSERT INTO readings (ts, seq, value, device_id, kind)
SELECT timestamptz 'epoch' + ts_us * interval '1 microsecond', seq, value, device_id, kind
FROM staging_readings
ON CONFLICT DO NOTHING
"""

INSERT_REJECTED = """
INSERT INTO rejected_messages (topic, payload, reason, device_uid, payload_len)
VALUES (%s, %s, %s, %s, %s)
"""

# Count a batch's rejections per device, hour and reason; returns how many of this
# device's messages were kept this hour before this batch (the quota's use so far).
COUNT_REJECTED = """
INSERT INTO rejected_counts (device_uid, hour, reason, n)
VALUES (%s, date_trunc('hour', now()), %s, %s)
ON CONFLICT (device_uid, hour, reason) DO UPDATE SET n = rejected_counts.n + excluded.n
"""

KEPT_THIS_HOUR = """
SELECT coalesce(sum(kept), 0) FROM rejected_counts
WHERE device_uid = %s AND hour = date_trunc('hour', now())
"""

MARK_KEPT = """
UPDATE rejected_counts SET kept = kept + %s
WHERE device_uid = %s AND hour = date_trunc('hour', now()) AND reason = %s
"""

# Workers on a shared subscription update the same devices: taking the row
# locks in id order first means two batches can never deadlock.
LOCK_DEVICES = "SELECT 1 FROM devices WHERE id = ANY(%s) ORDER BY id FOR UPDATE"

# One statement for every device heard from in the batch.
UPDATE_DEVICES = """
UPDATE devices d SET
    last_seen = now(),
    last_reading_at = GREATEST(d.last_reading_at, v.reading_at),
    online = COALESCE(v.online, d.online),
    battery_pct = COALESCE(v.battery, d.battery_pct),
    rssi_dbm = COALESCE(v.rssi, d.rssi_dbm),
    firmware = COALESCE(v.firmware, d.firmware),
    status_at = CASE WHEN v.is_status THEN now() ELSE d.status_at END
FROM unnest(%s::int[], %s::timestamptz[], %s::bool[], %s::real[], %s::real[], %s::text[],
            %s::bool[])
     AS v(id, reading_at, online, battery, rssi, firmware, is_status)
WHERE d.id = v.id
"""

LOAD_DEVICES = """
SELECT d.id, d.uid, d.home_id, d.kind, h.tz, g.uid, d.external_name, d.active, d.updated_at
FROM devices d JOIN homes h ON h.id = d.home_id LEFT JOIN devices g ON g.id = d.gateway_id
WHERE d.updated_at > %s
ORDER BY d.updated_at
"""

LOOKUP_DEVICES = """
SELECT d.id, d.uid, d.home_id, d.kind, h.tz, g.uid, d.external_name, d.active, d.updated_at
FROM devices d JOIN homes h ON h.id = d.home_id LEFT JOIN devices g ON g.id = d.gateway_id
WHERE d.uid = ANY(%s)
UNION ALL
SELECT d.id, d.uid, d.home_id, d.kind, h.tz, g.uid, d.external_name, d.active, d.updated_at
FROM unnest(%s::text[], %s::text[]) AS x(gateway, name)
JOIN devices g ON g.uid = x.gateway
JOIN devices d ON d.gateway_id = g.id AND d.external_name = x.name
JOIN homes h ON h.id = d.home_id
"""

# Tells the detectors which devices have new readings or status (payload: ids,
# comma-separated, at most NOTIFY_CHUNK of them per notification). Delivered
# on commit, so a listener never sees uncommitted rows.
NOTIFY_READINGS = "SELECT pg_notify('anju_readings', %s)"
NOTIFY_CHUNK = 800

# How often a worker writes its heartbeat (anju.heartbeats) for the watchdog.
HEARTBEAT_S = 10.0
