-- Event time: a reading has two clocks, the device's (ts: when it happened)
-- and anju's (received_at: when it was stored). The ingest names its columns,
-- so the default stamps every new row with its write's transaction time; rows
-- stored before this migration have none. The detectors put both times on an
-- alert and read a device's late rows by it (docs/detectors.md, "Event time").
ALTER TABLE readings ADD COLUMN received_at timestamptz;
ALTER TABLE readings ALTER COLUMN received_at SET DEFAULT now();
