"""Homes (lists, one home, its contacts, devices, away periods) and their charts."""

from console.sql.scope import SCOPE

# status: alert (an unresolved alert), offline (a device not heard for three
# heartbeats), away (an away period covers now), no_devices (nothing installed: nothing
# can be known of the home, so it is never "ok"), ok.
_HOME_FACTS = """
EXISTS (SELECT 1 FROM alerts x WHERE x.home_id = h.id AND x.state <> 'resolved') AS has_alert,
EXISTS (SELECT 1 FROM devices d WHERE d.home_id = h.id AND d.active
        AND (d.online IS FALSE OR d.last_seen IS NULL
             OR d.last_seen < now() - make_interval(secs => 3 * d.heartbeat_s))) AS has_offline,
EXISTS (SELECT 1 FROM home_away w WHERE w.home_id = h.id AND w.starts_at <= now()
        AND (w.ends_at IS NULL OR w.ends_at > now())) AS away,
NOT EXISTS (SELECT 1 FROM devices d WHERE d.home_id = h.id AND d.active) AS no_devices
"""

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
_NO_DEVICES = "NOT EXISTS (SELECT 1 FROM devices d WHERE d.home_id = h.id AND d.active)"

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
         OR (%(status)s = 'no_devices' AND {_NO_DEVICES})
         OR (%(status)s = 'ok' AND NOT {_ALERTING} AND NOT {_OFFLINE} AND NOT {_AWAY}
             AND NOT {_NO_DEVICES}))
  ORDER BY 5 DESC, 2, 3, 4
  LIMIT %(limit)s OFFSET %(offset)s
)
SELECT h.id, h.code, h.resident_name, h.address, h.building, h.tz,
       c.id AS community_id, c.code AS community_code, c.name AS community_name,
       l.alerting AS has_alert, {_OFFLINE} AS has_offline, {_AWAY} AS away,
       {_NO_DEVICES} AS no_devices
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
