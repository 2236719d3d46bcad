"""The router's SQL, in one place. Alerts and their events are written by alerts.store only."""

# -- adopt: a policy frozen onto each open alert without an escalation ----------------------
UNADOPTED = """
SELECT a.id, a.severity, a.opened_at, a.home_id, h.community_id, hp.policy, cp.policy
FROM alerts a JOIN homes h ON h.id = a.home_id
LEFT JOIN alert_escalations e ON e.alert_id = a.id
LEFT JOIN escalation_policies hp ON hp.scope = 'home'
     AND hp.scope_id = a.home_id AND hp.severity = a.severity
LEFT JOIN escalation_policies cp ON cp.scope = 'community'
     AND cp.scope_id = h.community_id AND cp.severity = a.severity
WHERE a.state = 'open' AND e.alert_id IS NULL
  AND (%(c)s::int[] IS NULL OR h.community_id = ANY(%(c)s))
ORDER BY a.id LIMIT 500
"""

ADOPT = """
INSERT INTO alert_escalations (alert_id, policy, policy_source, state, due_at, started_at)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (alert_id) DO NOTHING RETURNING alert_id
"""

# -- escalate: one due step under its row lock ---------------------------------------------
CLAIM_STEP = """
SELECT e.alert_id, e.policy, e.cycle, e.next_step, a.state, a.home_id, h.community_id, h.tz
FROM alert_escalations e JOIN alerts a ON a.id = e.alert_id
JOIN homes h ON h.id = a.home_id
WHERE e.state = 'running' AND e.due_at <= %(now)s
  AND (%(c)s::int[] IS NULL OR h.community_id = ANY(%(c)s))
ORDER BY e.due_at LIMIT 1 FOR NO KEY UPDATE OF e SKIP LOCKED
"""

CANDIDATES = """
SELECT c.id, c.role, c.name, c.urls, c.lang, c.home_id IS NOT NULL,
       coalesce((SELECT json_agg(json_build_array(s.weekday, s.starts, s.ends))
                 FROM duty_shifts s WHERE s.contact_id = c.id), '[]')
FROM contacts c WHERE c.active AND c.role = ANY(%s) AND (
  c.home_id = %s OR (c.community_id = %s AND c.role <> 'family')
  OR (c.role = 'operator' AND c.community_id IS NULL))
ORDER BY c.id
"""

ALERT_VIEW = """
SELECT a.id, a.kind, a.severity, h.resident_name, h.code, h.address, h.building,
       h.tz, a.opened_at, a.since, a.summary_zh, a.summary_en, d.room, a.evidence
FROM alerts a JOIN homes h ON h.id = a.home_id
LEFT JOIN devices d ON d.id = a.device_id WHERE a.id = %s
"""

NEW_ALERT_DELIVERY = """
INSERT INTO deliveries (key, purpose, alert_id, cycle, step, contact_id, severity, urls, messages,
                        next_at, created_at)
VALUES (%s, 'alert', %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (key) DO NOTHING RETURNING id
"""

CHAIN_FINISHED = """
UPDATE alert_escalations SET state = 'finished', due_at = NULL, steps_done = steps_done + 1,
       stopped_at = %s, stop_reason = 'chain complete'
WHERE alert_id = %s
"""

CHAIN_NEXT = """
UPDATE alert_escalations SET next_step = %s, cycle = %s, due_at = %s, steps_done = steps_done + 1
WHERE alert_id = %s
"""

# a step's delivery ended undelivered: how the step and the chain stand
STEP_OTHERS = """
SELECT count(*) FROM deliveries WHERE alert_id = %s AND cycle = %s AND step = %s
AND id <> %s AND status IN ('pending', 'delivered')
"""

CHAIN_FOR_UPDATE = """
SELECT policy, cycle, next_step FROM alert_escalations WHERE alert_id = %s FOR NO KEY UPDATE
"""

CHAIN_DUE_NOW = """
UPDATE alert_escalations SET due_at = %s WHERE alert_id = %s AND due_at > %s
"""

# -- daily summaries ------------------------------------------------------------------------
SUMMARIES_DUE = """
SELECT c.id, c.name, c.lang, c.urls, h.id, h.tz, h.resident_name,
       (%(now)s AT TIME ZONE h.tz)::date
FROM contacts c JOIN homes h ON h.id = c.home_id
WHERE c.active AND c.daily_summary AND c.role = 'family'
  AND (%(c)s::int[] IS NULL OR h.community_id = ANY(%(c)s))
  AND (%(now)s AT TIME ZONE h.tz)::time >= c.summary_at
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.key =
      'summary-' || c.id || '-' || (%(now)s AT TIME ZONE h.tz)::date)
"""

NEW_SUMMARY_DELIVERY = """
INSERT INTO deliveries (key, purpose, contact_id, urls, messages, next_at, created_at)
VALUES (%s, 'summary', %s, %s, %s, %s, %s)
ON CONFLICT (key) DO NOTHING RETURNING id
"""

# -- follow-ups: the people already told hear who took the alert, then the outcome ---------
# An acknowledged or resolved alert whose follow-ups are not queued yet, once none of its
# alert deliveries is pending: one being sent while it was acknowledged may still turn out
# delivered, and that person is to hear the follow-up too.
FOLLOWUP_DUE = """
SELECT a.id, a.kind, a.severity, h.resident_name, h.code, h.address, h.building, h.tz,
       a.opened_at, a.since, a.summary_zh, a.summary_en, d.room, a.evidence,
       a.state, a.acknowledged_at, a.acknowledged_by, a.resolved_at, a.resolved_by, a.outcome,
       a.followup_ack_at IS NULL, a.followup_res_at IS NULL,
       (SELECT e.note FROM alert_events e WHERE e.alert_id = a.id AND e.action = 'resolve'
        ORDER BY e.id DESC LIMIT 1),
       (SELECT u.contact_id FROM ack_link_uses u WHERE u.alert_id = a.id
        AND u.result = 'acknowledged' ORDER BY u.used_at LIMIT 1)
FROM alerts a JOIN homes h ON h.id = a.home_id
LEFT JOIN devices d ON d.id = a.device_id
WHERE ((a.state <> 'open' AND a.followup_ack_at IS NULL)
       OR (a.state = 'resolved' AND a.followup_res_at IS NULL))
  AND (%(c)s::int[] IS NULL OR h.community_id = ANY(%(c)s))
  AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.alert_id = a.id AND x.purpose = 'alert'
                  AND x.status = 'pending')
ORDER BY a.id LIMIT 1 FOR NO KEY UPDATE OF a SKIP LOCKED
"""

# everyone an alert's message reached, in their language, on their channels of today
FOLLOWUP_TOLD = """
SELECT c.id, c.name, c.lang, c.urls FROM contacts c
WHERE c.active AND c.id IN (SELECT d.contact_id FROM deliveries d WHERE d.alert_id = %s
                            AND d.purpose = 'alert' AND d.status = 'delivered')
ORDER BY c.id
"""

NEW_FOLLOWUP_DELIVERY = """
INSERT INTO deliveries (key, purpose, alert_id, contact_id, severity, urls, messages, next_at,
                        created_at)
VALUES (%s, 'followup', %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (key) DO NOTHING RETURNING id
"""

# -- deliver: claim under a lease, send with nothing held, record while the lease is ours ----
CLAIM_DELIVERY = """
SELECT d.id, d.key, d.purpose, d.alert_id, a.state, d.cycle, d.step, d.contact_id, c.name,
       d.severity, d.urls, d.messages, d.channel, d.tries, c.quiet_start, c.quiet_end,
       coalesce(h.tz, 'Asia/Shanghai'),
       (SELECT count(*) FROM delivery_attempts t
        WHERE t.delivery_id = d.id AND t.finished_at IS NULL)
FROM deliveries d JOIN contacts c ON c.id = d.contact_id
LEFT JOIN alerts a ON a.id = d.alert_id
LEFT JOIN homes h ON h.id = coalesce(a.home_id, c.home_id)
WHERE d.status = 'pending' AND d.next_at <= %(now)s
  AND (d.lease_until IS NULL OR d.lease_until <= %(now)s)
  AND (%(c)s::int[] IS NULL OR coalesce(h.community_id, c.community_id) = ANY(%(c)s))
ORDER BY d.next_at LIMIT 1 FOR NO KEY UPDATE OF d SKIP LOCKED
"""

LEASE = "UPDATE deliveries SET lease_until = %s, leased_by = %s WHERE id = %s"

CANCEL = """
UPDATE deliveries SET status = 'cancelled', done_at = %s, note = %s,
       lease_until = NULL, leased_by = NULL
WHERE id = %s
"""

HOLD = "UPDATE deliveries SET next_at = %s WHERE id = %s"

INTERRUPTED = """
UPDATE delivery_attempts SET finished_at = %s, error = %s
WHERE delivery_id = %s AND finished_at IS NULL
"""

NEW_ATTEMPT = """
INSERT INTO delivery_attempts (delivery_id, contact_id, channel, target, worker, started_at)
VALUES (%s, %s, %s, %s, %s, %s) RETURNING id
"""

FINISH_ATTEMPT = "UPDATE delivery_attempts SET finished_at = %s, ok = %s, error = %s WHERE id = %s"

# the lease is still ours: nobody took the delivery over after it ran out
STILL_LEASED = """
SELECT a.state FROM deliveries d LEFT JOIN alerts a ON a.id = d.alert_id
WHERE d.id = %s AND d.status = 'pending' AND d.leased_by = %s AND d.lease_until = %s
FOR NO KEY UPDATE OF d
"""

RELEASE = """
UPDATE deliveries SET lease_until = NULL, leased_by = NULL
WHERE id = %s AND status = 'pending' AND leased_by = %s AND lease_until = %s
"""

DELIVERED = """
UPDATE deliveries SET status = 'delivered', done_at = %s, tries = %s,
       lease_until = NULL, leased_by = NULL
WHERE id = %s
"""

RETRY_LATER = """
UPDATE deliveries SET tries = %s, next_at = %s, lease_until = NULL, leased_by = NULL
WHERE id = %s
"""

NEXT_CHANNEL = """
UPDATE deliveries SET channel = %s, tries = 0, next_at = %s, lease_until = NULL, leased_by = NULL
WHERE id = %s
"""

UNDELIVERED = """
UPDATE deliveries SET status = 'undelivered', tries = %s, done_at = %s, note = %s,
       lease_until = NULL, leased_by = NULL
WHERE id = %s
"""

# -- the loop -------------------------------------------------------------------------------
# only future work: what is due now was done, or is leased or locked by another router
NEXT_DUE = """
SELECT least((SELECT min(next_at) FROM deliveries WHERE status = 'pending' AND next_at > %(now)s),
             (SELECT min(due_at) FROM alert_escalations
              WHERE state = 'running' AND due_at > %(now)s))
"""
