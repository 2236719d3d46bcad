-- Partitioned detectors (detectors/partitions.py, detectors/leases.py): homes are spread
-- over detector processes by partition, each partition held under a lease.
--
-- A lease is live while expires_at is in the future (the database's clock decides, never
-- a detector's). Its holder renews it every lease_s/3; a detector that dies stops
-- renewing and another takes the partition once it has expired. epoch goes up at every
-- take: it is the fencing token a holder shows when it writes alerts (the write's
-- transaction reads its partitions' rows FOR SHARE, holder, epoch and expiry checked,
-- so a take waits for the write and a write after a take is refused).
CREATE TABLE detector_leases (
    partition   int PRIMARY KEY CHECK (partition >= 0),
    holder      text,
    epoch       bigint NOT NULL DEFAULT 0,
    expires_at  timestamptz NOT NULL DEFAULT '-infinity',
    taken_at    timestamptz
);

-- The live detectors, for the fair share: a row renewed with the leases.
CREATE TABLE detector_members (
    worker      text PRIMARY KEY,
    partitions  int NOT NULL,
    expires_at  timestamptz NOT NULL
);

-- The partition of a home: the top bits of a multiplicative hash of its id (as
-- detectors.partitions.partition_of computes it).
CREATE FUNCTION anju_partition(home_id bigint, partitions int) RETURNS int
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT (((home_id * 2654435761) % 4294967296) * partitions / 4294967296)::int $$;
