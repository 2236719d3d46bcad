-- Home visits: districts visit special-needs residents regularly (e.g.
-- monthly) and patrol periodically. A schedule per home and kind says how
-- often and who goes; each visit is recorded with its outcome, and a visit
-- that finds a concern may open an alert (kind visit_concern). An alert
-- resolved by a home visit is recorded as a visit too.

CREATE TABLE visit_schedules (
    id            serial PRIMARY KEY,
    home_id       integer NOT NULL REFERENCES homes(id),
    kind          text NOT NULL CHECK (kind IN ('special_needs', 'patrol')),
    every_days    integer NOT NULL CHECK (every_days BETWEEN 1 AND 366),
    worker_id     integer REFERENCES console_users(id) ON DELETE SET NULL,
    next_due_at   timestamptz NOT NULL,
    note          text NOT NULL DEFAULT '',
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (home_id, kind)
);
CREATE INDEX visit_schedules_due ON visit_schedules (next_due_at) WHERE active;
CREATE INDEX visit_schedules_worker ON visit_schedules (worker_id, next_due_at) WHERE active;

CREATE TABLE visits (
    id            bigserial PRIMARY KEY,
    home_id       integer NOT NULL REFERENCES homes(id),
    schedule_id   integer REFERENCES visit_schedules(id) ON DELETE SET NULL,
    alert_id      bigint REFERENCES alerts(id),          -- the alert this visit resolved
    visited_at    timestamptz NOT NULL DEFAULT now(),
    worker_id     integer REFERENCES console_users(id) ON DELETE SET NULL,
    worker        text NOT NULL,                         -- "王社工 (wang)", kept if the user goes
    outcome       text NOT NULL CHECK (outcome IN ('all_well', 'concern', 'help_called',
                                                   'not_home')),
    concern       text,
    note          text,
    concern_alert_id bigint REFERENCES alerts(id),       -- the alert the concern opened
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX visits_home ON visits (home_id, visited_at DESC);
CREATE INDEX visits_worker ON visits (worker_id, visited_at DESC);

-- Reports and the audit page read by time and community.
CREATE INDEX alerts_opened ON alerts (opened_at);
CREATE INDEX audit_log_user ON audit_log (user_id, at);
