-- Alerts: one row per alert, one state column; every transition in alert_events.

CREATE TABLE alerts (
    id              bigserial PRIMARY KEY,
    home_id         integer NOT NULL REFERENCES homes(id),
    kind            text NOT NULL,                 -- "inactivity", "smoke", "water_running", ...
    severity        text NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    state           text NOT NULL DEFAULT 'open'
                    CHECK (state IN ('open', 'acknowledged', 'resolved')),
    device_id       integer REFERENCES devices(id),
    opened_at       timestamptz NOT NULL DEFAULT now(),
    condition_at    timestamptz NOT NULL,          -- when the condition was established
    since           timestamptz,                   -- when the situation began (last activity, ...)
    evidence        jsonb NOT NULL DEFAULT '{}',
    summary_zh      text NOT NULL,
    summary_en      text NOT NULL,
    cleared_at      timestamptz,                   -- the condition went away (person moved again)
    clear_reason    text,
    acknowledged_at timestamptz,
    acknowledged_by text,
    resolved_at     timestamptz,
    resolved_by     text,
    outcome         text,
    note            text,
    reopens         bigint REFERENCES alerts(id),  -- the resolved alert this one follows
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- Dedup: one unresolved alert per home and kind.
CREATE UNIQUE INDEX alerts_one_open ON alerts (home_id, kind) WHERE state <> 'resolved';
-- One alert per episode: a detector replaying history after a restart finds
-- the episode it already reported (even if someone has resolved it since).
CREATE UNIQUE INDEX alerts_episode ON alerts (home_id, kind, condition_at);
CREATE INDEX alerts_board ON alerts (state, severity, opened_at) WHERE state <> 'resolved';
CREATE INDEX alerts_home ON alerts (home_id, opened_at DESC);

CREATE TABLE alert_events (
    id          bigserial PRIMARY KEY,
    alert_id    bigint NOT NULL REFERENCES alerts(id),
    at          timestamptz NOT NULL DEFAULT now(),
    action      text NOT NULL,        -- open, update, clear, acknowledge, resolve
    from_state  text,
    to_state    text NOT NULL,
    actor       text NOT NULL,        -- "detector", a user name, a contact
    channel     text NOT NULL DEFAULT 'system',   -- system, console, link, api, ...
    note        text
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, at);

-- Away: the resident is known to be away (holiday, hospital, with family).
CREATE TABLE home_away (
    id          bigserial PRIMARY KEY,
    home_id     integer NOT NULL REFERENCES homes(id),
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz,                       -- NULL: until cleared
    reason      text NOT NULL DEFAULT '',
    set_by      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX home_away_home ON home_away (home_id, starts_at);

-- Detector settings per community and per home (the home's win); validated
-- by detectors.config before they are stored.
CREATE TABLE detector_settings (
    scope       text NOT NULL CHECK (scope IN ('community', 'home')),
    scope_id    integer NOT NULL,
    settings    jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, scope_id)
);
