-- Many homes of one community losing devices at once (a building's power, a
-- gateway): one incident for the operators and property management instead of
-- an alert per home (detectors/bursts.py). Written by the detector service;
-- the router tells the people once (told_at) and when it is over (over_told_at).
CREATE TABLE community_incidents (
    id            bigserial PRIMARY KEY,
    community_id  integer NOT NULL REFERENCES communities(id),
    kind          text NOT NULL DEFAULT 'devices_offline',
    opened_at     timestamptz NOT NULL,
    homes         integer NOT NULL,
    devices       integer NOT NULL,
    evidence      jsonb NOT NULL DEFAULT '{}',
    closed_at     timestamptz,
    told_at       timestamptz,
    over_told_at  timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX community_incidents_open ON community_incidents (community_id, kind)
    WHERE closed_at IS NULL;
