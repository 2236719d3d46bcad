"""Reports (response times, alerts by kind, device health) and the audit log."""

from console.sql.scope import SCOPE

# A person's first response to an alert: acknowledged, or resolved by someone
# without an acknowledgement first (a detector's clear is no response).
_RESPONSE_S = """extract(epoch FROM coalesce(a.acknowledged_at,
    CASE WHEN a.outcome IS DISTINCT FROM 'condition_cleared' THEN a.resolved_at END)
    - a.opened_at)"""

_REPORT_WHERE = f"""a.opened_at >= %(since)s AND a.opened_at < %(until)s AND {SCOPE}
  AND (%(community)s::text IS NULL OR c.code = %(community)s)"""

# Critical alerts per community and ISO week (in the home's time zone): how
# many were answered within 60 s and 180 s (the social-alarm standard).
REPORT_RESPONSE = f"""
SELECT c.code AS community_code, c.name AS community_name,
       to_char(a.opened_at AT TIME ZONE h.tz, 'IYYY-"W"IW') AS week,
       count(*) AS critical,
       count(*) FILTER (WHERE r.s <= 60) AS within_60s,
       count(*) FILTER (WHERE r.s <= 180) AS within_180s,
       count(*) FILTER (WHERE r.s IS NULL) AS unanswered,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY r.s))::numeric, 1) AS median_s,
       round((percentile_cont(0.95) WITHIN GROUP (ORDER BY r.s))::numeric, 1) AS p95_s
FROM alerts a JOIN homes h ON h.id = a.home_id JOIN communities c ON c.id = h.community_id
CROSS JOIN LATERAL (SELECT {_RESPONSE_S} AS s) r
WHERE a.severity = 'critical' AND {_REPORT_WHERE}
GROUP BY 1, 2, 3
ORDER BY week DESC, community_code
"""

REPORT_KINDS = f"""
SELECT a.kind, a.severity, count(*) AS alerts,
       count(*) FILTER (WHERE a.state <> 'resolved') AS unresolved,
       count(*) FILTER (WHERE a.outcome = 'false_alarm') AS false_alarms
FROM alerts a JOIN homes h ON h.id = a.home_id JOIN communities c ON c.id = h.community_id
WHERE {_REPORT_WHERE}
GROUP BY 1, 2
ORDER BY alerts DESC, a.kind, a.severity
"""

_DEVICE_OFFLINE = """(d.online IS FALSE OR d.last_seen IS NULL
        OR d.last_seen < now() - make_interval(secs => 3 * d.heartbeat_s))"""

REPORT_DEVICES = f"""
SELECT c.code AS community_code, c.name AS community_name, count(*) AS devices,
       count(*) FILTER (WHERE {_DEVICE_OFFLINE}) AS offline,
       count(*) FILTER (WHERE d.battery_pct < %(low_battery)s) AS low_battery
FROM devices d JOIN homes h ON h.id = d.home_id JOIN communities c ON c.id = h.community_id
WHERE d.active AND {SCOPE} AND (%(community)s::text IS NULL OR c.code = %(community)s)
GROUP BY 1, 2 ORDER BY 1
"""

REPORT_DEVICE_PROBLEMS = f"""
SELECT c.code AS community_code, h.id AS home_id, h.code AS home_code, h.resident_name,
       h.tz, d.uid, d.kind, d.room, d.last_seen, d.battery_pct,
       {_DEVICE_OFFLINE} AS offline, coalesce(d.battery_pct < %(low_battery)s, false) AS low_battery
FROM devices d JOIN homes h ON h.id = d.home_id JOIN communities c ON c.id = h.community_id
WHERE d.active AND {SCOPE} AND (%(community)s::text IS NULL OR c.code = %(community)s)
  AND ({_DEVICE_OFFLINE} OR d.battery_pct < %(low_battery)s)
ORDER BY c.code, h.code, d.uid
LIMIT %(limit)s
"""

# -- the audit log ------------------------------------------------------------------

# Admins read everything; others the entries about homes in their scope, and their own.
AUDIT_LOG = f"""
SELECT l.id, l.at, l.username, l.action, l.home_id, l.alert_id, l.detail, l.remote,
       h.code AS home_code, h.resident_name, coalesce(h.tz, 'Asia/Shanghai') AS tz
FROM audit_log l LEFT JOIN homes h ON h.id = l.home_id
WHERE (%(admin)s OR l.user_id = %(uid)s OR (h.id IS NOT NULL AND {SCOPE}))
  AND (%(home)s::int IS NULL OR l.home_id = %(home)s)
  AND (%(alert)s::bigint IS NULL OR l.alert_id = %(alert)s)
  AND (%(username)s::text IS NULL OR l.username = %(username)s)
  AND (%(action)s::text IS NULL OR l.action = %(action)s)
  AND (%(before)s::bigint IS NULL OR l.id < %(before)s)
ORDER BY l.id DESC
LIMIT %(limit)s
"""
