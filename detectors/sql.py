"""The detector service's SQL, in one place."""

LOAD_HOMES = """
SELECT h.id, h.code, h.tz, h.community_id FROM homes h
"""

LOAD_DEVICES = """
SELECT d.id, d.uid, d.home_id, d.kind, d.room, d.heartbeat_s, d.last_seen
FROM devices d WHERE d.active AND d.kind <> 'gateway'
"""

LOAD_SETTINGS = "SELECT scope, scope_id, settings FROM detector_settings"

LOAD_AWAY = """
SELECT home_id, starts_at, ends_at, reason FROM home_away
WHERE ends_at IS NULL OR ends_at > now()
"""

# History to learn from and recent events to replay, per home; with each row's key and
# when it was stored (anju's clock), and the database's time of the read.
HOME_READINGS = """
SELECT r.ts, r.device_id, r.kind, r.value, r.seq, r.received_at
FROM readings r
WHERE r.device_id = ANY(%s) AND r.ts >= %s AND r.ts <= %s
ORDER BY r.ts
"""

DB_NOW = "SELECT now()"

# New readings of the devices named in a notification: those after each one's cursor
# (the newest device time read), and its late ones: up to `late window` behind the
# cursor and stored since its mark (the newest storing time read, less a margin for
# transactions that committed out of order). The caller skips rows it has read.
NEW_READINGS = """
SELECT r.ts, r.device_id, r.kind, r.value, r.seq, r.received_at
FROM readings r
JOIN unnest(%s::int[], %s::timestamptz[], %s::timestamptz[]) AS c(id, cursor, mark)
  ON r.device_id = c.id AND r.ts > c.cursor - %s::interval
 AND (r.ts > c.cursor OR r.received_at >= c.mark)
ORDER BY r.ts
"""

DEVICES_SEEN = "SELECT id, last_seen, battery_pct FROM devices WHERE id = ANY(%s)"

CHANGED = """
SELECT (SELECT max(updated_at) FROM devices), (SELECT count(*) FROM homes),
       (SELECT max(updated_at) FROM detector_settings),
       (SELECT max(id) FROM home_away)
"""

# Alerts are written by alerts.store alone.

# A community's burst of devices going offline (detectors/bursts.py): one open row per
# community and kind, kept up to date while homes join or come back.
UPSERT_INCIDENT = """
INSERT INTO community_incidents (community_id, opened_at, homes, devices, evidence)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (community_id, kind) WHERE closed_at IS NULL
DO UPDATE SET homes = excluded.homes, devices = excluded.devices,
    evidence = excluded.evidence, updated_at = now()
"""

CLOSE_INCIDENT = """
UPDATE community_incidents SET closed_at = %s, updated_at = now()
WHERE community_id = %s AND kind = 'devices_offline' AND closed_at IS NULL
"""

# -- partitioned detectors (detectors/leases.py) -------------------------------------------
# Only the homes (and their devices) of the partitions held: %s is P, then the partitions.
LOAD_HOMES_IN = LOAD_HOMES + "WHERE anju_partition(h.id, %s) = ANY(%s)\n"

LOAD_DEVICES_IN = LOAD_DEVICES + "AND anju_partition(d.home_id, %s) = ANY(%s)\n"

LEASE_ROWS = """
INSERT INTO detector_leases (partition) SELECT generate_series(0, %s - 1)
ON CONFLICT (partition) DO NOTHING
"""

# This detector is live for another lease time (its share counts in everyone's plan).
MEMBER_BEAT = """
INSERT INTO detector_members (worker, partitions, expires_at)
VALUES (%(me)s, %(n)s, clock_timestamp() + %(lease)s)
ON CONFLICT (worker) DO UPDATE SET partitions = excluded.partitions,
    expires_at = excluded.expires_at
"""

MEMBER_LEAVE = "DELETE FROM detector_members WHERE worker = %s"

# crashed detectors' rows, long dead, are not kept
MEMBERS_FORGET = """
DELETE FROM detector_members WHERE expires_at < clock_timestamp() - interval '1 hour'
"""

MEMBERS_LIVE = """
SELECT worker FROM detector_members WHERE expires_at > clock_timestamp() AND partitions = %s
"""

# Renew what is still ours (same epoch, not yet expired by the database's clock); what
# is not returned is lost.
RENEW = """
UPDATE detector_leases l SET expires_at = clock_timestamp() + %(lease)s
FROM unnest(%(parts)s::int[], %(epochs)s::bigint[]) AS m(partition, epoch)
WHERE l.partition = m.partition AND l.epoch = m.epoch AND l.holder = %(me)s
  AND l.expires_at > clock_timestamp()
RETURNING l.partition
"""

# Every partition's lease; seconds until a live one expires (for the next look).
LEASES = """
SELECT partition, holder, expires_at > clock_timestamp(),
       CASE WHEN expires_at > clock_timestamp()
            THEN extract(epoch FROM expires_at - clock_timestamp()) END
FROM detector_leases WHERE partition < %s ORDER BY partition
"""

# Take free or expired partitions; a row being taken or fenced by someone else right now
# is skipped (tried again next round), never waited for.
ACQUIRE = """
WITH free AS (
  SELECT partition FROM detector_leases
  WHERE partition = ANY(%(parts)s) AND (holder IS NULL OR expires_at <= clock_timestamp())
  FOR UPDATE SKIP LOCKED)
UPDATE detector_leases l SET holder = %(me)s, epoch = l.epoch + 1,
       expires_at = clock_timestamp() + %(lease)s, taken_at = clock_timestamp()
FROM free WHERE l.partition = free.partition
RETURNING l.partition, l.epoch
"""

RELEASE = """
UPDATE detector_leases l SET holder = NULL, expires_at = '-infinity'
FROM unnest(%(parts)s::int[], %(epochs)s::bigint[]) AS m(partition, epoch)
WHERE l.partition = m.partition AND l.epoch = m.epoch AND l.holder = %(me)s
"""

# The fence, in the transaction that writes alerts: the partitions still ours, their
# rows share-locked until commit, so no one takes them while the write is under way.
FENCE = """
SELECT l.partition FROM detector_leases l
JOIN unnest(%(parts)s::int[], %(epochs)s::bigint[]) AS m(partition, epoch)
  ON l.partition = m.partition AND l.epoch = m.epoch
WHERE l.holder = %(me)s AND l.expires_at > clock_timestamp()
FOR SHARE OF l
"""
