"""The alert board, alert lists and one alert with its events, escalation and deliveries."""

from console.sql.scope import SCOPE

_ALERT_COLUMNS = """
a.id, a.kind, a.severity, a.state, a.opened_at, a.since, a.condition_at,
a.summary_zh, a.summary_en, a.acknowledged_at, a.acknowledged_by, a.resolved_at,
a.resolved_by, a.outcome, a.note, a.evidence,
a.unreached_at, a.unreached_reason, a.unreached_detail,
h.id AS home_id, h.code AS home_code, h.resident_name, h.address, h.building, h.tz,
c.id AS community_id, c.code AS community_code, c.name AS community_name
"""

SEVERITY_ORDER = ("CASE a.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1"
                  " WHEN 'medium' THEN 2 ELSE 3 END")

# The board: unresolved alerts (narrowed, when asked, by community code, severity, state
# and a search of resident, address and home code); first those that reached nobody
# (alerts/unreached.py), then the most severe, then those nobody has taken yet, then the
# longest waiting.
BOARD = f"""
SELECT {_ALERT_COLUMNS}
FROM alerts a JOIN homes h ON h.id = a.home_id JOIN communities c ON c.id = h.community_id
WHERE a.state <> 'resolved' AND {SCOPE}
  AND (%(community)s::text IS NULL OR c.code = %(community)s)
  AND (%(severity)s::text IS NULL OR a.severity = %(severity)s)
  AND (%(state)s::text IS NULL OR a.state = %(state)s)
  AND (%(q)s::text IS NULL OR h.resident_name ILIKE %(q)s OR h.address ILIKE %(q)s
       OR h.code ILIKE %(q)s OR h.building ILIKE %(q)s)
ORDER BY (a.state = 'open' AND a.unreached_at IS NOT NULL) DESC, {SEVERITY_ORDER},
         (a.state = 'open') DESC, a.opened_at
LIMIT %(limit)s
"""

ALERTS = f"""
SELECT {_ALERT_COLUMNS}
FROM alerts a JOIN homes h ON h.id = a.home_id JOIN communities c ON c.id = h.community_id
WHERE {SCOPE}
  AND (%(state)s::text IS NULL OR a.state = %(state)s)
  AND (%(home)s::int IS NULL OR a.home_id = %(home)s)
ORDER BY a.opened_at DESC, a.id DESC
LIMIT %(limit)s
"""

ALERT = f"""
SELECT {_ALERT_COLUMNS}
FROM alerts a JOIN homes h ON h.id = a.home_id JOIN communities c ON c.id = h.community_id
WHERE a.id = %(id)s AND {SCOPE}
"""

# For the live fan-out: where an alert belongs (no scope: the hub filters).
ALERT_PLACE = """
SELECT a.id, a.severity, a.state, h.id, h.community_id, h.building
FROM alerts a JOIN homes h ON h.id = a.home_id WHERE a.id = %s
"""

ALERT_EVENTS = """
SELECT at, action, from_state, to_state, actor, channel, note
FROM alert_events WHERE alert_id = %s ORDER BY at, id
"""

ALERT_ESCALATION = """
SELECT policy, policy_source, state, cycle, next_step, due_at, started_at, steps_done,
       stopped_at, stop_reason
FROM alert_escalations WHERE alert_id = %s
"""

ALERT_DELIVERIES = """
SELECT d.id, d.cycle, d.step, ct.name, ct.role, d.status, d.channel, d.tries,
       d.created_at, d.done_at, d.note
FROM deliveries d JOIN contacts ct ON ct.id = d.contact_id
WHERE d.alert_id = %s ORDER BY d.created_at, d.id
"""

ALERT_ATTEMPTS = """
SELECT t.delivery_id, t.channel, t.target, t.started_at, t.finished_at, t.ok, t.error
FROM delivery_attempts t JOIN deliveries d ON d.id = t.delivery_id
WHERE d.alert_id = %s ORDER BY t.started_at, t.id
"""

# The alert page's action panel: whom to call about the home. Family and a home's own
# property contact belong to the home; community workers and a community-wide property
# contact to its community. Operators are the watchdog's, not the home's.
HOME_PEOPLE = """
SELECT ct.id, ct.role, ct.name, ct.phone, ct.has_key, ct.urls
FROM contacts ct
WHERE ct.active AND ct.role <> 'operator'
  AND (ct.home_id = %(home)s OR ct.community_id = %(community)s)
ORDER BY CASE ct.role WHEN 'family' THEN 0 WHEN 'community_worker' THEN 1 ELSE 2 END,
         ct.home_id IS NULL, ct.id
"""

HOME_PHONE = "SELECT phone FROM homes WHERE id = %s"

# The home's latest sign of life (motion or presence seen, a door or contact moved) in the
# past week, with the room it was in: each device's latest by the readings' key index
# (device, kind, ts), then the newest of those.
LAST_ACTIVITY = """
SELECT x.ts, d.room
FROM devices d CROSS JOIN LATERAL (
  SELECT r.ts FROM readings r
  WHERE r.device_id = d.id AND r.kind = ANY(%(kinds)s) AND r.ts > now() - interval '7 days'
    AND (r.value > 0 OR r.kind = ANY(%(any_value)s))
  ORDER BY r.ts DESC LIMIT 1) x
WHERE d.home_id = %(home)s
ORDER BY x.ts DESC
LIMIT 1
"""
