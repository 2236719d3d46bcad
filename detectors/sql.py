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

# Open an alert unless this episode (or an unresolved alert of this kind) exists.
# Re-opening: the condition coming back after its alert was resolved is a new
# alert (a new episode), linked to the resolved one of the last 24 hours.
OPEN_ALERT = """
INSERT INTO alerts (home_id, kind, severity, device_id, condition_at, since, evidence,
                    summary_zh, summary_en, reopens)
SELECT v.*, (SELECT a.id FROM alerts a WHERE a.home_id = v.home_id AND a.kind = v.kind
             AND a.state = 'resolved' AND a.resolved_at > v.condition_at - interval '24 hours'
             ORDER BY a.resolved_at DESC LIMIT 1)
FROM (VALUES (%s::int, %s::text, %s::text, %s::int, %s::timestamptz, %s::timestamptz,
              %s::jsonb, %s::text, %s::text))
     AS v(home_id, kind, severity, device_id, condition_at, since, evidence, summary_zh,
          summary_en)
ON CONFLICT DO NOTHING
RETURNING id
"""

ALERT_EVENT = """
INSERT INTO alert_events (alert_id, at, action, from_state, to_state, actor, channel, note)
VALUES (%s, %s, %s, %s, %s, 'detector', 'system', %s)
"""

# The condition went away: the unresolved alert of this kind whose episode
# began no later than the clearing is resolved, the reason kept.
CLEARABLE = """
SELECT id, state FROM alerts
WHERE home_id = %s AND kind = %s AND state <> 'resolved' AND condition_at <= %s
FOR UPDATE
"""

CLEAR_ALERT = """
UPDATE alerts SET state = 'resolved', cleared_at = %s, clear_reason = %s, resolved_at = %s,
       resolved_by = 'detector', outcome = 'condition_cleared', updated_at = now()
WHERE id = %s
"""

NOTIFY_ALERT = "SELECT pg_notify('anju_alerts', %s)"

# A button pressed again while the home's earlier press is acknowledged but not resolved:
# the earlier alert is closed as followed by a new one (its own episode), so that the new
# press is told to people instead of merged into an alert nobody is watching escalate.
# Only for a press later than that alert's, and not already an alert of its own.
SUPERSEDABLE = """
SELECT a.id FROM alerts a
WHERE a.home_id = %s AND a.kind = %s AND a.state = 'acknowledged' AND a.condition_at < %s
  AND NOT EXISTS (SELECT 1 FROM alerts e WHERE e.home_id = a.home_id AND e.kind = a.kind
                  AND e.condition_at = %s)
FOR UPDATE
"""

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
