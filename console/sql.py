"""Every SQL statement the console runs.

Queries that touch homes or alerts take the signed-in user's scope through
two named parameters, %(admin)s and %(uid)s, and filter with SCOPE (on the
homes alias `h`): the database never returns a row the user may not see.
"""

# -- scope ------------------------------------------------------------------------

SCOPE = """(%(admin)s OR EXISTS (
    SELECT 1 FROM console_user_scopes s
    WHERE s.user_id = %(uid)s
      AND (s.home_id = h.id
           OR (s.home_id IS NULL AND s.community_id = h.community_id
               AND (s.building IS NULL OR s.building = h.building)))))"""

# -- users ------------------------------------------------------------------------

ADD_USER = """
INSERT INTO console_users (username, display_name, role, password_hash, lang)
VALUES (%s, %s, %s, %s, %s) RETURNING id
"""

ADD_SCOPE = """
INSERT INTO console_user_scopes (user_id, community_id, building, home_id)
VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING
"""

COMMUNITY_BY_CODE = "SELECT id FROM communities WHERE code = %s"
HOME_BY_CODE = "SELECT id FROM homes WHERE code = %s"

USER_FOR_LOGIN = """
SELECT id, password_hash, active FROM console_users WHERE username = %s
"""

SET_PASSWORD_HASH = "UPDATE console_users SET password_hash = %s WHERE id = %s"

USER_SCOPES = """
SELECT community_id, building, home_id FROM console_user_scopes WHERE user_id = %s
ORDER BY id
"""

# -- sessions ---------------------------------------------------------------------

NEW_SESSION = """
INSERT INTO console_sessions (token_hash, user_id, csrf_token, expires_at, remote, user_agent)
VALUES (%s, %s, %s, now() + make_interval(secs => %s), %s, %s)
"""

# One round trip: the session, its user, and the session is touched.
SESSION_USER = """
UPDATE console_sessions s SET last_seen_at = now()
FROM console_users u
WHERE s.token_hash = %s AND s.expires_at > now() AND u.id = s.user_id AND u.active
RETURNING u.id, u.username, u.display_name, u.role, s.csrf_token
"""

END_SESSION = "DELETE FROM console_sessions WHERE token_hash = %s"
PURGE_SESSIONS = "DELETE FROM console_sessions WHERE expires_at < now() - interval '1 day'"

# -- sign-in attempts ---------------------------------------------------------------

# Attempts from one address are looked at and recorded one at a time, so parallel
# guesses cannot all pass the same check before any of them is counted.
LOCK_LOGIN_REMOTE = "SELECT pg_advisory_xact_lock(hashtextextended('anju-login:' || %s, 0))"

# Failures (refused attempts aside) for the user name at the address since its last
# success, and from the address for any user name; each with seconds since the latest.
LOGIN_FAILURES = """
WITH pair AS (
    SELECT count(*) AS n, max(at) AS last FROM console_login_attempts
    WHERE username = %(username)s AND remote = %(remote)s AND NOT ok AND NOT refused
      AND at > greatest(now() - make_interval(secs => %(user_window)s),
                        coalesce((SELECT max(at) FROM console_login_attempts
                                  WHERE username = %(username)s AND remote = %(remote)s AND ok),
                                 '-infinity'))
), addr AS (
    SELECT count(*) AS n, max(at) AS last FROM console_login_attempts
    WHERE remote = %(remote)s AND NOT ok AND NOT refused
      AND at > now() - make_interval(secs => %(remote_window)s)
)
SELECT pair.n, extract(epoch FROM clock_timestamp() - pair.last)::float8,
       addr.n, extract(epoch FROM clock_timestamp() - addr.last)::float8
FROM pair, addr
"""

# An attempt is recorded as a failure before its password is checked (a guess in
# flight counts at once) and turned into a success after.
RECORD_LOGIN = """
INSERT INTO console_login_attempts (username, remote, ok, refused) VALUES (%s, %s, %s, %s)
RETURNING id
"""
LOGIN_SUCCEEDED = "UPDATE console_login_attempts SET ok = true WHERE id = %s"

# -- audit ----------------------------------------------------------------------

AUDIT = """
INSERT INTO audit_log (user_id, username, action, home_id, alert_id, detail, remote)
VALUES (%s, %s, %s, %s, %s, %s, %s)
"""

# -- alerts -----------------------------------------------------------------------

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

# The board: unresolved alerts; first those that reached nobody (alerts/unreached.py),
# then the most severe, then those nobody has taken yet, then the longest waiting.
BOARD = f"""
SELECT {_ALERT_COLUMNS}
FROM alerts a JOIN homes h ON h.id = a.home_id JOIN communities c ON c.id = h.community_id
WHERE a.state <> 'resolved' AND {SCOPE}
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
SELECT policy_source, state, cycle, next_step, due_at, started_at, steps_done,
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

# -- homes ------------------------------------------------------------------------

# status: alert (an unresolved alert), offline (a device not heard for three
# heartbeats), away (an away period covers now), ok.
_HOME_FACTS = """
EXISTS (SELECT 1 FROM alerts x WHERE x.home_id = h.id AND x.state <> 'resolved') AS has_alert,
EXISTS (SELECT 1 FROM devices d WHERE d.home_id = h.id AND d.active
        AND (d.online IS FALSE OR d.last_seen IS NULL
             OR d.last_seen < now() - make_interval(secs => 3 * d.heartbeat_s))) AS has_offline,
EXISTS (SELECT 1 FROM home_away w WHERE w.home_id = h.id AND w.starts_at <= now()
        AND (w.ends_at IS NULL OR w.ends_at > now())) AS away
"""

# The homes in a user's scope as ids, by index (admins: all of them) - for lists,
# where probing SCOPE row by row over every home would cost more than the list.
# The homes a user other than an admin may see, as ids, by index: for lists,
# where probing SCOPE row by row over every home would cost more than the list.
SCOPED_HOMES = """scoped AS (
  SELECT s.home_id AS id FROM console_user_scopes s
  WHERE NOT %(admin)s AND s.user_id = %(uid)s AND s.home_id IS NOT NULL
  UNION
  SELECT h.id FROM console_user_scopes s JOIN homes h ON h.community_id = s.community_id
   AND (s.building IS NULL OR h.building = s.building)
  WHERE NOT %(admin)s AND s.user_id = %(uid)s AND s.home_id IS NULL)"""

_OFFLINE = """EXISTS (SELECT 1 FROM devices d WHERE d.home_id = h.id AND d.active
        AND (d.online IS FALSE OR d.last_seen IS NULL
             OR d.last_seen < now() - make_interval(secs => 3 * d.heartbeat_s)))"""
_AWAY = """EXISTS (SELECT 1 FROM home_away w WHERE w.home_id = h.id AND w.starts_at <= now()
        AND (w.ends_at IS NULL OR w.ends_at > now()))"""
_ALERTING = "h.id IN (SELECT home_id FROM alerting)"

# One page of homes: ordered (those with an unresolved alert first) and cut on
# ids and sort keys alone; the facts are worked out for that page only. Codes
# sort bytewise ("C"): the same order for ASCII codes, and far cheaper.
HOMES = f"""
WITH {SCOPED_HOMES},
alerting AS MATERIALIZED (SELECT DISTINCT home_id FROM alerts WHERE state <> 'resolved'),
listed AS MATERIALIZED (
  SELECT h.id, c.code COLLATE "C" AS community_code, h.building COLLATE "C" AS building,
         h.code COLLATE "C" AS code, {_ALERTING} AS alerting
  FROM homes h JOIN communities c ON c.id = h.community_id
  WHERE (%(admin)s OR h.id IN (SELECT id FROM scoped))
    AND (%(community)s::text IS NULL OR c.code = %(community)s)
    AND (%(building)s::text IS NULL OR h.building = %(building)s)
    AND (%(q)s::text IS NULL OR h.code ILIKE %(q)s OR h.resident_name ILIKE %(q)s
         OR h.address ILIKE %(q)s)
    AND (%(status)s::text IS NULL
         OR (%(status)s = 'alert' AND {_ALERTING})
         OR (%(status)s = 'offline' AND {_OFFLINE})
         OR (%(status)s = 'away' AND {_AWAY})
         OR (%(status)s = 'ok' AND NOT {_ALERTING} AND NOT {_OFFLINE} AND NOT {_AWAY}))
  ORDER BY 5 DESC, 2, 3, 4
  LIMIT %(limit)s OFFSET %(offset)s
)
SELECT h.id, h.code, h.resident_name, h.address, h.building, h.tz,
       c.id AS community_id, c.code AS community_code, c.name AS community_name,
       l.alerting AS has_alert, {_OFFLINE} AS has_offline, {_AWAY} AS away
FROM listed l JOIN homes h ON h.id = l.id JOIN communities c ON c.id = h.community_id
ORDER BY l.alerting DESC, l.community_code, l.building, l.code
"""

HOME = f"""
SELECT h.id, h.code, h.resident_name, h.address, h.building, h.tz,
       c.id AS community_id, c.code AS community_code, c.name AS community_name,
       {_HOME_FACTS}
FROM homes h JOIN communities c ON c.id = h.community_id
WHERE h.id = %(id)s AND {SCOPE}
"""

COMMUNITIES = """
SELECT c.code, c.name FROM communities c
WHERE %(admin)s
   OR c.id IN (SELECT s.community_id FROM console_user_scopes s
               WHERE s.user_id = %(uid)s AND s.community_id IS NOT NULL)
   OR c.id IN (SELECT h.community_id FROM console_user_scopes s JOIN homes h ON h.id = s.home_id
               WHERE s.user_id = %(uid)s)
ORDER BY c.code
"""

HOME_CONTACTS = """
SELECT id, name, role, urls, lang, (home_id IS NOT NULL) AS own FROM contacts
WHERE active AND (home_id = %s OR (home_id IS NULL AND community_id = %s AND role = 'property'))
ORDER BY CASE role WHEN 'family' THEN 0 ELSE 1 END, id
"""

HOME_DEVICES = """
SELECT id, uid, kind, room, vendor, model, last_seen, battery_pct, online, heartbeat_s,
       (online IS FALSE OR last_seen IS NULL
        OR last_seen < now() - make_interval(secs => 3 * heartbeat_s)) AS offline
FROM devices WHERE home_id = %s AND active ORDER BY room, kind, uid
"""

HOME_AWAY = """
SELECT starts_at, ends_at, reason, set_by FROM home_away
WHERE home_id = %s AND (ends_at IS NULL OR ends_at > now() - interval '30 days')
ORDER BY starts_at DESC LIMIT 10
"""

# -- charts -----------------------------------------------------------------------

# Activations (readings above zero) of the activity sensors per room and
# 15-minute bucket: the rollup where it exists, raw readings after it.
ACTIVITY = """
WITH mark AS (
  SELECT coalesce((SELECT value FROM maintenance_state WHERE name = 'rollup'),
                  '-infinity'::timestamptz) AS rolled
)
SELECT room, bucket, sum(n)::int FROM (
  SELECT r.room, r.bucket, r.n_on AS n FROM readings_15m r, mark
  WHERE r.home_id = %(home)s AND r.kind = ANY(%(kinds)s) AND r.bucket >= %(since)s
    AND r.bucket < mark.rolled
  UNION ALL
  SELECT d.room, time_bucket('15 minutes', x.ts), count(*) FILTER (WHERE x.value > 0)
  FROM readings x JOIN devices d ON d.id = x.device_id, mark
  WHERE d.home_id = %(home)s AND x.kind = ANY(%(kinds)s)
    AND x.ts >= greatest(%(since)s, mark.rolled)
  GROUP BY 1, 2
) t GROUP BY room, bucket ORDER BY room, bucket
"""

# The learned normal band: for each room and local quarter hour of the day, the
# share of the past four weeks' days on which the resident was active there then.
NORMAL = """
WITH past AS (
  SELECT r.room, r.bucket AT TIME ZONE %(tz)s AS local, r.n_on
  FROM readings_15m r
  WHERE r.home_id = %(home)s AND r.kind = ANY(%(kinds)s)
    AND r.bucket >= %(since)s - interval '28 days' AND r.bucket < %(since)s
), days AS (
  SELECT greatest(count(DISTINCT local::date), 1) AS n FROM past
)
SELECT room, (extract(hour FROM local) * 4 + floor(extract(minute FROM local) / 15))::int,
       count(DISTINCT local::date)::float / (SELECT n FROM days)
FROM past WHERE n_on > 0 GROUP BY 1, 2
"""

# Water (litres used: growth of the cumulative meter) and power (mean W) per
# 15-minute bucket.
USAGE = """
WITH mark AS (
  SELECT coalesce((SELECT value FROM maintenance_state WHERE name = 'rollup'),
                  '-infinity'::timestamptz) AS rolled
), b AS (
  SELECT r.kind, r.bucket, r.vmin, r.vmax, r.vsum, r.n FROM readings_15m r, mark
  WHERE r.home_id = %(home)s AND r.kind IN (5, 6) AND r.bucket >= %(since)s
    AND r.bucket < mark.rolled
  UNION ALL
  SELECT x.kind, time_bucket('15 minutes', x.ts), min(x.value), max(x.value), sum(x.value),
         count(*)
  FROM readings x JOIN devices d ON d.id = x.device_id, mark
  WHERE d.home_id = %(home)s AND x.kind IN (5, 6) AND x.ts >= greatest(%(since)s, mark.rolled)
  GROUP BY 1, 2
), agg AS (
  SELECT kind, bucket, min(vmin) AS vmin, max(vmax) AS vmax, sum(vsum) AS vsum, sum(n) AS n
  FROM b GROUP BY 1, 2
)
SELECT kind, bucket,
       CASE kind WHEN 5 THEN greatest(vmax - coalesce(lag(vmax) OVER w, vmin), 0)
                 ELSE vsum / greatest(n, 1) END
FROM agg WINDOW w AS (PARTITION BY kind ORDER BY bucket)
ORDER BY kind, bucket
"""

# -- visits -----------------------------------------------------------------------

_SCHEDULE_COLUMNS = """
v.id, v.kind, v.every_days, v.next_due_at, v.note, v.worker_id,
u.username AS worker_username, u.display_name AS worker_name, (v.next_due_at < now()) AS overdue,
h.id AS home_id, h.code AS home_code, h.resident_name, h.address, h.building, h.tz,
c.code AS community_code, c.name AS community_name,
(SELECT max(x.visited_at) FROM visits x WHERE x.home_id = h.id) AS last_visit_at
"""

# Schedules in scope due before %(until)s (overdue ones first), optionally one worker's.
VISITS_DUE = f"""
SELECT {_SCHEDULE_COLUMNS}
FROM visit_schedules v JOIN homes h ON h.id = v.home_id
JOIN communities c ON c.id = h.community_id LEFT JOIN console_users u ON u.id = v.worker_id
WHERE v.active AND v.next_due_at < %(until)s AND {SCOPE}
  AND (%(worker)s::int IS NULL OR v.worker_id = %(worker)s)
ORDER BY v.next_due_at, h.code
LIMIT %(limit)s
"""

HOME_SCHEDULES = f"""
SELECT {_SCHEDULE_COLUMNS}
FROM visit_schedules v JOIN homes h ON h.id = v.home_id
JOIN communities c ON c.id = h.community_id LEFT JOIN console_users u ON u.id = v.worker_id
WHERE v.home_id = %(home)s AND v.active
ORDER BY v.kind
"""

HOME_VISITS = """
SELECT v.id, v.visited_at, v.worker, v.outcome, v.concern, v.note, v.alert_id,
       v.concern_alert_id, s.kind AS schedule_kind
FROM visits v LEFT JOIN visit_schedules s ON s.id = v.schedule_id
WHERE v.home_id = %s ORDER BY v.visited_at DESC, v.id DESC LIMIT %s
"""

WORKER_BY_USERNAME = """
SELECT id, role FROM console_users WHERE username = %s AND active
"""

# A schedule is set (or changed) per home and kind; the first visit is due at
# %(first_due)s, else a period after the last visit, else now.
SET_SCHEDULE = """
INSERT INTO visit_schedules (home_id, kind, every_days, worker_id, note, active, next_due_at)
VALUES (%(home)s, %(kind)s, %(every_days)s, %(worker)s, %(note)s, %(active)s,
        coalesce(%(first_due)s,
                 (SELECT max(visited_at) FROM visits WHERE home_id = %(home)s)
                   + make_interval(days => %(every_days)s),
                 now()))
ON CONFLICT (home_id, kind) DO UPDATE SET
    every_days = excluded.every_days, worker_id = excluded.worker_id, note = excluded.note,
    active = excluded.active, updated_at = now(),
    next_due_at = coalesce(%(first_due)s,
                           (SELECT max(visited_at) FROM visits WHERE home_id = %(home)s)
                             + make_interval(days => %(every_days)s),
                           visit_schedules.next_due_at)
RETURNING id
"""

SCHEDULE_ID = "SELECT id FROM visit_schedules WHERE home_id = %s AND kind = %s AND active"

RECORD_VISIT = """
INSERT INTO visits (home_id, schedule_id, alert_id, visited_at, worker_id, worker, outcome,
                    concern, note)
VALUES (%(home)s, %(schedule)s, %(alert)s, %(at)s, %(uid)s, %(worker)s, %(outcome)s,
        %(concern)s, %(note)s)
RETURNING id
"""

LINK_CONCERN_ALERT = "UPDATE visits SET concern_alert_id = %s WHERE id = %s"

# The visit counts for the schedule it was made under, or for all the home's.
ADVANCE_SCHEDULES = """
UPDATE visit_schedules SET next_due_at = %(at)s::timestamptz + make_interval(days => every_days),
       updated_at = now()
WHERE home_id = %(home)s AND active AND (%(schedule)s::int IS NULL OR id = %(schedule)s)
  AND next_due_at < %(at)s::timestamptz + make_interval(days => every_days)
"""


# -- reports ----------------------------------------------------------------------

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

# -- managing a home ------------------------------------------------------------------

AWAY_SET = """
INSERT INTO home_away (home_id, starts_at, ends_at, reason, set_by) VALUES (%s, %s, %s, %s, %s)
"""

AWAY_CLEAR = """
UPDATE home_away SET ends_at = %s WHERE home_id = %s AND (ends_at IS NULL OR ends_at > %s)
"""

DETECTOR_SETTINGS = """
SELECT scope, settings FROM detector_settings
WHERE (scope = 'home' AND scope_id = %s) OR (scope = 'community' AND scope_id = %s)
"""

DETECTOR_SET = """
INSERT INTO detector_settings (scope, scope_id, settings) VALUES ('home', %s, %s)
ON CONFLICT (scope, scope_id) DO UPDATE SET settings = excluded.settings, updated_at = now()
"""

HOME_CONTACT = "SELECT id FROM contacts WHERE id = %s AND home_id = %s AND active"

HOME_POLICIES = """
SELECT scope, severity, policy FROM escalation_policies
WHERE (scope = 'home' AND scope_id = %s) OR (scope = 'community' AND scope_id = %s)
"""

# -- homes and duty rotas (admins; operators of the community) ----------------------

# A community the user manages: admins any; operators with the whole community
# in their scope (not one building of it, not one home).
MANAGED_COMMUNITY = """
SELECT c.id, c.code, c.name FROM communities c
WHERE (c.id = %(id)s OR c.code = %(code)s) AND (%(admin)s OR EXISTS (
    SELECT 1 FROM console_user_scopes s WHERE s.user_id = %(uid)s AND s.community_id = c.id
      AND s.home_id IS NULL AND s.building IS NULL))
"""

MANAGED_COMMUNITIES = """
SELECT c.id, c.code, c.name FROM communities c
WHERE %(admin)s OR c.id IN (SELECT s.community_id FROM console_user_scopes s
    WHERE s.user_id = %(uid)s AND s.home_id IS NULL AND s.building IS NULL)
ORDER BY c.code
"""

UPDATE_HOME = """
UPDATE homes SET resident_name = %s, address = %s, building = %s, tz = %s WHERE id = %s
"""

COMMUNITY_WORKERS = """
SELECT c.id, c.name, c.lang,
       COALESCE(json_agg(json_build_object('id', s.id, 'weekday', s.weekday,
                                           'starts', to_char(s.starts, 'HH24:MI'),
                                           'ends', to_char(s.ends, 'HH24:MI'))
                         ORDER BY s.weekday, s.starts) FILTER (WHERE s.id IS NOT NULL),
                '[]') AS shifts
FROM contacts c LEFT JOIN duty_shifts s ON s.contact_id = c.id
WHERE c.active AND c.role = 'community_worker' AND c.community_id = %s
GROUP BY c.id ORDER BY c.name, c.id
"""

COMMUNITY_WORKER = """
SELECT id FROM contacts WHERE id = %s AND active AND role = 'community_worker'
  AND community_id = %s
"""

REMOVE_SHIFT = """
DELETE FROM duty_shifts s USING contacts c
WHERE s.id = %s AND c.id = s.contact_id AND c.community_id = %s
RETURNING s.id, s.contact_id, s.weekday, to_char(s.starts, 'HH24:MI'), to_char(s.ends, 'HH24:MI')
"""
