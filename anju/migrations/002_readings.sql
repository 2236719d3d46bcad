-- Readings: one row per sensor reading, a TimescaleDB hypertable.
-- Columns are ordered widest first so the row packs without padding; the
-- only index is the idempotency key, which also serves per-device queries.
-- kind codes are anju.contract.Kind.

CREATE TABLE reading_kinds (
    code  smallint PRIMARY KEY,
    name  text NOT NULL UNIQUE
);
INSERT INTO reading_kinds (code, name) VALUES
    (1, 'motion'), (2, 'door'), (3, 'contact'), (4, 'presence'), (5, 'water'),
    (6, 'power'), (7, 'energy'), (8, 'smoke'), (9, 'gas'), (10, 'leak'),
    (11, 'button'), (12, 'temperature');

CREATE TABLE readings (
    ts         timestamptz      NOT NULL,
    seq        bigint           NOT NULL,
    value      double precision NOT NULL,
    device_id  integer          NOT NULL,
    kind       smallint         NOT NULL
);
SELECT create_hypertable('readings', 'ts', chunk_time_interval => interval '1 day',
                         create_default_indexes => false);
CREATE UNIQUE INDEX readings_key ON readings (device_id, kind, ts, seq);
-- Rollups scan recent readings by time; a BRIN index does that for a few
-- bytes per thousand rows, where a B-tree would cost ~40 bytes per row.
CREATE INDEX readings_ts_brin ON readings USING brin (ts);

-- Messages that could not be stored, kept raw with the reason.
CREATE TABLE rejected_messages (
    id           bigserial PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT now(),
    topic        text NOT NULL,
    payload      bytea NOT NULL,
    reason       text NOT NULL,
    device_uid   text
);
CREATE INDEX rejected_received ON rejected_messages (received_at);

-- Compact 15-minute rollups per home, room and kind: what detectors and
-- charts need once raw readings have expired.
CREATE TABLE readings_15m (
    home_id  integer          NOT NULL,
    bucket   timestamptz      NOT NULL,
    kind     smallint         NOT NULL,
    room     text             NOT NULL,
    n        integer          NOT NULL,   -- readings
    n_on     integer          NOT NULL,   -- readings with a value above zero (activations)
    vmin     double precision NOT NULL,
    vmax     double precision NOT NULL,
    vsum     double precision NOT NULL,
    PRIMARY KEY (home_id, kind, room, bucket)
);
SELECT create_hypertable('readings_15m', 'bucket', chunk_time_interval => interval '30 days');

CREATE TABLE maintenance_state (
    name   text PRIMARY KEY,
    value  timestamptz NOT NULL
);
