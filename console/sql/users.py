"""Console users, their sessions, sign-in attempts and the audit log's rows."""

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
