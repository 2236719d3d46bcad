"""Managing a home (away, detector settings, contacts, policies) and communities' homes
and duty rotas (admins; operators of the community)."""

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
