"""The detector service's SQL, in one place."""

LOAD_HOMES = """
SELECT h.id, h.code, h.tz, h.community_id FROM homes h
"""

LOAD_DEVICES = """
SELECT d.id, d.uid, d.home_id, d.kind, d.room, d.heartbeat_s, d.last_seen
FROM devices d WHERE d.active AND d.kind <> 'gateway'
"""

LOAD_SETTINGS = "SELECT scope, scope_id, settings FROM detector_settings"

LOAD_AWAY = """
SELECT home_id, starts_at, ends_at, reason FROM home_away
WHERE ends_at IS NULL OR ends_at > now()
"""

# History to learn from and recent events to replay, per home; with each row's key and
# when it was stored (anju's clock), and the database's time of the read.
HOME_READINGS = """
SELECT r.ts, r.device_id, r.kind, r.value, r.seq, r.received_at
FROM readings r
WHERE r.device_id = ANY(%s) AND r.ts >= %s AND r.ts <= %s
ORDER BY r.ts
"""

DB_NOW = "SELECT now()"

# New readings of the devices named in a notification: those after each one's cursor
# (the newest device time read), and its late ones: up to `late window` behind the
# cursor and stored since its mark (the newest storing time read, less a margin for
# transactions that committed out of order). The caller skips rows it has read.
NEW_READINGS = """
SELECT r.ts, r.device_id, r.kind, r.value, r.seq, r.received_at
FROM readings r
JOIN unnest(%s::int[], %s::timestamptz[], %s::timestamptz[]) AS c(id, cursor, mark)
  ON r.device_id = c.id AND r.ts > c.cursor - %s::interval
 AND (r.ts > c.cursor OR r.received_at >= c.mark)
ORDER BY r.ts
"""

DEVICES_SEEN = "SELECT id, last_seen, battery_pct FROM devices WHERE id = ANY(%s)"

CHANGED = """
SELECT (SELECT max(updated_at) FROM devices), (SELECT count(*) FROM homes),
       (SELECT max(updated_at) FROM detector_settings),
       (SELECT max(id) FROM home_away)
"""

# Alerts are written by alerts.store alone.

# A community's burst of devices going offline (detectors/bursts.py): one open row per
# community and kind, kept up to date while homes join or come back.
UPSERT_INCIDENT = """
INSERT INTO community_incidents (community_id, opened_at, homes, devices, evidence)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (community_id, kind) WHERE closed_at IS NULL
DO UPDATE SET homes = excluded.homes, devices = excluded.devices,
    evidence = excluded.evidence, updated_at = now()
"""

CLOSE_INCIDENT = """
UPDATE community_incidents SET closed_at = %s, updated_at = now()
WHERE community_id = %s AND kind = 'devices_offline' AND closed_at IS NULL
"""
