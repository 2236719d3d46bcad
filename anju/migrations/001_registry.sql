-- Communities, homes and devices: the registry every service reads.

CREATE TABLE communities (
    id          serial PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    district    text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE homes (
    id            serial PRIMARY KEY,
    code          text NOT NULL UNIQUE,
    community_id  integer NOT NULL REFERENCES communities(id),
    resident_name text NOT NULL,
    address       text NOT NULL DEFAULT '',
    building      text NOT NULL DEFAULT '',
    tz            text NOT NULL DEFAULT 'Asia/Shanghai',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX homes_community ON homes (community_id, building);

CREATE TABLE devices (
    id              serial PRIMARY KEY,
    uid             text NOT NULL UNIQUE,          -- the name in topics and the broker user name
    home_id         integer NOT NULL REFERENCES homes(id),
    kind            text NOT NULL,                 -- device kind, see anju.contract.DEVICE_KINDS
    room            text NOT NULL DEFAULT 'other',
    vendor          text NOT NULL DEFAULT '',
    model           text NOT NULL DEFAULT '',
    -- A device behind a gateway (zigbee2mqtt) is addressed by the gateway's
    -- uid and its own name there; such a device has no broker credentials.
    gateway_id      integer REFERENCES devices(id),
    external_name   text,
    heartbeat_s     integer NOT NULL DEFAULT 900,
    last_seen       timestamptz,                   -- arrival of its latest message (server clock)
    last_reading_at timestamptz,                   -- device time of its latest reading
    battery_pct     real,
    rssi_dbm        real,
    online          boolean,
    firmware        text,
    status_at       timestamptz,
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (gateway_id, external_name)
);
CREATE INDEX devices_home ON devices (home_id);
CREATE INDEX devices_updated ON devices (updated_at);

-- Broker credentials: PBKDF2-SHA512 hashes in Mosquitto's password-file
-- format; the plain password is shown once at provisioning and never stored.
CREATE TABLE broker_users (
    username     text PRIMARY KEY,
    password_hash text NOT NULL,
    role         text NOT NULL CHECK (role IN ('device', 'gateway', 'service')),
    device_id    integer REFERENCES devices(id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now()
);
