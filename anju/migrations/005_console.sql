-- The web console: its users and what each may see, server-side sessions,
-- sign-in attempts (for rate limiting) and the audit log.

-- Passwords are argon2id hashes (argon2-cffi's encoded form); the plain
-- password is shown once when the user is created and never stored.
CREATE TABLE console_users (
    id            serial PRIMARY KEY,
    username      text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.@-]{2,64}$'),
    display_name  text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'operator', 'property', 'family')),
    password_hash text NOT NULL,
    lang          text NOT NULL DEFAULT 'zh-CN' CHECK (lang IN ('zh-CN', 'en')),
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    password_set_at timestamptz NOT NULL DEFAULT now()
);

-- What a user may see, one row per grant:
--   operator: a community (building NULL); property: a community's building;
--   family: a home. Admins see everything and have no rows.
CREATE TABLE console_user_scopes (
    id            serial PRIMARY KEY,
    user_id       integer NOT NULL REFERENCES console_users(id) ON DELETE CASCADE,
    community_id  integer REFERENCES communities(id),
    building      text,
    home_id       integer REFERENCES homes(id),
    CHECK ((home_id IS NULL) <> (community_id IS NULL)),
    CHECK (building IS NULL OR community_id IS NOT NULL)
);
CREATE UNIQUE INDEX console_user_scopes_one
    ON console_user_scopes (user_id, coalesce(community_id, 0), coalesce(building, ''),
                            coalesce(home_id, 0));
CREATE INDEX console_user_scopes_community ON console_user_scopes (community_id, building);
CREATE INDEX console_user_scopes_home ON console_user_scopes (home_id) WHERE home_id IS NOT NULL;

-- Sessions live in the database (a restart signs nobody out); the cookie
-- holds a random token, the table only its SHA-256.
CREATE TABLE console_sessions (
    token_hash    bytea PRIMARY KEY,
    user_id       integer NOT NULL REFERENCES console_users(id) ON DELETE CASCADE,
    csrf_token    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    remote        text NOT NULL DEFAULT '',
    user_agent    text NOT NULL DEFAULT ''
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- Every sign-in attempt, for rate limiting by user name and by address.
CREATE TABLE console_login_attempts (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    username  text NOT NULL,
    remote    text NOT NULL,
    ok        boolean NOT NULL
);
CREATE INDEX console_login_attempts_user ON console_login_attempts (username, at);
CREATE INDEX console_login_attempts_remote ON console_login_attempts (remote, at);

-- Who viewed or changed which home and alert.
CREATE TABLE audit_log (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    user_id   integer REFERENCES console_users(id) ON DELETE SET NULL,
    username  text NOT NULL,
    action    text NOT NULL,          -- view_home, view_alert, acknowledge, resolve, sign_in, ...
    home_id   integer REFERENCES homes(id),
    alert_id  bigint REFERENCES alerts(id),
    detail    jsonb NOT NULL DEFAULT '{}',
    remote    text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_home ON audit_log (home_id, at) WHERE home_id IS NOT NULL;
CREATE INDEX audit_log_alert ON audit_log (alert_id, at) WHERE alert_id IS NOT NULL;
