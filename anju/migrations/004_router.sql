-- The alert router: contacts and their duty rota, escalation policies, each
-- alert's frozen escalation, deliveries with every attempt, used
-- acknowledgement links, service heartbeats and the watchdog's incidents.

-- People to tell. Family belong to a home, community workers to a community,
-- property management to a home or a whole community, operators (told by the
-- watchdog) to a community or to everything (neither set).
CREATE TABLE contacts (
    id            serial PRIMARY KEY,
    role          text NOT NULL
                  CHECK (role IN ('family', 'community_worker', 'property', 'operator')),
    home_id       integer REFERENCES homes(id),
    community_id  integer REFERENCES communities(id),
    name          text NOT NULL,
    urls          text[] NOT NULL CHECK (cardinality(urls) >= 1),  -- apprise URLs, preferred first
    lang          text NOT NULL DEFAULT 'zh-CN' CHECK (lang IN ('zh-CN', 'en')),
    quiet_start   time,                       -- quiet hours (home's local time), low severity only
    quiet_end     time,
    daily_summary boolean NOT NULL DEFAULT false,
    summary_at    time NOT NULL DEFAULT '20:00',
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL)),
    CHECK (CASE role
             WHEN 'family' THEN home_id IS NOT NULL AND community_id IS NULL
             WHEN 'community_worker' THEN community_id IS NOT NULL AND home_id IS NULL
             WHEN 'property' THEN (home_id IS NULL) <> (community_id IS NULL)
             ELSE home_id IS NULL
           END)
);
CREATE INDEX contacts_home ON contacts (home_id, role) WHERE home_id IS NOT NULL;
CREATE INDEX contacts_community ON contacts (community_id, role) WHERE community_id IS NOT NULL;

-- A community worker's weekly rota, in the local time of the alert's home.
CREATE TABLE duty_shifts (
    id          serial PRIMARY KEY,
    contact_id  integer NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    weekday     smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),   -- ISO: 1 = Monday
    starts      time NOT NULL,
    ends        time NOT NULL            -- ends <= starts: the shift runs past midnight
);
CREATE INDEX duty_shifts_contact ON duty_shifts (contact_id);

-- Escalation policies per community or home and severity (the home's wins);
-- validated by alerts.policy before they are stored. Without a row the
-- built-in defaults apply.
CREATE TABLE escalation_policies (
    scope       text NOT NULL CHECK (scope IN ('community', 'home')),
    scope_id    integer NOT NULL,
    severity    text NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    policy      jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL DEFAULT '',
    PRIMARY KEY (scope, scope_id, severity)
);

-- One escalation per alert: the policy as it was when the router first saw
-- the alert, and where the chain stands. Claimed with FOR UPDATE SKIP LOCKED.
CREATE TABLE alert_escalations (
    alert_id      bigint PRIMARY KEY REFERENCES alerts(id),
    policy        jsonb NOT NULL,
    policy_source text NOT NULL,                  -- default, community:<id>, home:<id>
    state         text NOT NULL DEFAULT 'running'
                  CHECK (state IN ('running', 'finished', 'stopped')),
    cycle         integer NOT NULL DEFAULT 0,      -- repeats of the whole chain
    next_step     integer NOT NULL DEFAULT 0,
    due_at        timestamptz,                     -- when next_step is due (running only)
    started_at    timestamptz NOT NULL,
    steps_done    integer NOT NULL DEFAULT 0,
    stopped_at    timestamptz,
    stop_reason   text
);
CREATE INDEX alert_escalations_due ON alert_escalations (due_at) WHERE state = 'running';

-- One message to one contact (an escalation step, a daily summary, ...),
-- tried channel by channel. `key` is the idempotency key every send carries.
CREATE TABLE deliveries (
    id          bigserial PRIMARY KEY,
    key         text NOT NULL UNIQUE,
    purpose     text NOT NULL CHECK (purpose IN ('alert', 'summary')),
    alert_id    bigint REFERENCES alerts(id),
    cycle       integer,
    step        integer,
    contact_id  integer NOT NULL REFERENCES contacts(id),
    severity    text,
    urls        text[] NOT NULL,                   -- the contact's channels when it was created
    messages    jsonb NOT NULL,                    -- {"sms"|"email"|"chat": {"title", "body"}}
    status      text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'delivered', 'undelivered', 'cancelled')),
    channel     integer NOT NULL DEFAULT 0,        -- index in urls being tried
    tries       integer NOT NULL DEFAULT 0,        -- failed tries on that channel
    next_at     timestamptz NOT NULL,
    created_at  timestamptz NOT NULL,
    done_at     timestamptz,
    note        text
);
CREATE INDEX deliveries_due ON deliveries (next_at) WHERE status = 'pending';
CREATE INDEX deliveries_alert ON deliveries (alert_id) WHERE alert_id IS NOT NULL;

-- Every attempt, written before the send and completed after it: an attempt
-- left with ok NULL was interrupted (the router died while sending).
CREATE TABLE delivery_attempts (
    id           bigserial PRIMARY KEY,
    delivery_id  bigint NOT NULL REFERENCES deliveries(id),
    contact_id   integer NOT NULL REFERENCES contacts(id),
    channel      integer NOT NULL,
    target       text NOT NULL,                    -- the URL's scheme and host, no secrets
    worker       text NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    ok           boolean,
    error        text
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id);

-- Acknowledgement links that have been used: a second use is a replay.
CREATE TABLE ack_link_uses (
    nonce       text PRIMARY KEY,
    alert_id    bigint NOT NULL REFERENCES alerts(id),
    contact_id  integer REFERENCES contacts(id),
    used_at     timestamptz NOT NULL,
    used_by     text NOT NULL,
    remote      text NOT NULL DEFAULT '',
    result      text NOT NULL
);

-- Each service instance writes its row while it makes progress:
--   INSERT INTO service_heartbeats (service, instance, beat_at, progress)
--   VALUES ('ingest', 'worker-1', now(), 12345)
--   ON CONFLICT (service, instance) DO UPDATE
--   SET beat_at = excluded.beat_at, progress = excluded.progress;
CREATE TABLE service_heartbeats (
    service     text NOT NULL,            -- ingest, detectors, router
    instance    text NOT NULL,            -- the worker's name
    beat_at     timestamptz NOT NULL,
    progress    bigint NOT NULL DEFAULT 0,  -- a counter of work done, for the console
    info        jsonb NOT NULL DEFAULT '{}',
    started_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service, instance)
);

CREATE TABLE watchdog_incidents (
    id            bigserial PRIMARY KEY,
    service       text NOT NULL,
    opened_at     timestamptz NOT NULL,
    last_beat_at  timestamptz,
    notified_at   timestamptz,            -- last time the operators were told
    notified      integer NOT NULL DEFAULT 0,
    recovered_at  timestamptz
);
CREATE UNIQUE INDEX watchdog_one_open ON watchdog_incidents (service) WHERE recovered_at IS NULL;
