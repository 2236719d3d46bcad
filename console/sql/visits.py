"""Home visits and their schedules."""

from console.sql.scope import SCOPE

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
