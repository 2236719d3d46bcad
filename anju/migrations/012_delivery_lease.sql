-- A delivery being sent is leased, not row-locked: the router that claims it
-- writes lease_until (later than its send timeout) and its name, commits, and
-- sends with no transaction open; the result is written only while the lease
-- is still its own. A router killed mid-send leaves the lease to run out; the
-- next router then sends the delivery again, with the same idempotency key.
ALTER TABLE deliveries
    ADD COLUMN lease_until timestamptz,
    ADD COLUMN leased_by   text;
