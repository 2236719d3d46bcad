"""Partitioned detectors: the partition key, the fair share, and detector services
sharing the homes of one database under leases (a crash, a clean stop, a fenced write)."""

from __future__ import annotations

import asyncio
import time
from typing import Callable

import psycopg

from anju.contract import Kind
from detectors.partitions import Lease, partition_of, plan, preference, targets
from tests.detector_support import Service, alerts_of, insert_reading
from tests.support import wait_until

P = 16          # partitions in these tests
LEASE = 3.0     # seconds: short, so a crash is recovered within the test's time


# -- pure: the key and the share -------------------------------------------------------------
def test_partition_key_is_stable_and_even():
    # the same on every process and every version (stored in no table, so it must not move)
    assert [partition_of(h, 64) for h in (1, 2, 3, 1000, 123456)] == [39, 15, 54, 2, 0]
    counts = [0] * 64
    for h in range(1, 6401):
        counts[partition_of(h, 64)] += 1
    assert min(counts) >= 80 and max(counts) <= 120, counts
    # a community's homes, added one after another, spread over many partitions
    assert len({partition_of(h, 64) for h in range(500, 520)}) >= 16
    assert all(0 <= partition_of(h, 7) < 7 for h in range(1, 2000))


def _leases(holders: dict[int, str | None], n: int, dead: set[str] = frozenset()) -> list[Lease]:
    return [Lease(p, holders.get(p), holders.get(p) is not None and holders.get(p) not in dead)
            for p in range(n)]


def test_fair_share_targets():
    assert targets(["b", "a", "c"], 16) == {"a": 6, "b": 5, "c": 5}
    assert sum(targets([f"w{i}" for i in range(7)], 64).values()) == 64
    assert targets([], 16) == {}


def test_alone_takes_every_partition():
    p = plan("a", _leases({}, 8), [], 8)
    assert sorted(p.take) == list(range(8)) and p.release == []
    assert p.take == preference("a", list(range(8)))


def test_two_starting_together_want_half_each():
    p = plan("a", _leases({}, 16), ["a", "b"], 16)
    assert len(p.take) == 8 and p.release == []
    # they prefer different partitions, so they rarely race for the same row
    q = plan("b", _leases({}, 16), ["a", "b"], 16)
    assert len(set(p.take) & set(q.take)) < 8


def test_a_newcomer_gets_partitions_released_gently():
    full = _leases({i: "a" for i in range(16)}, 16)
    p = plan("a", full, ["a", "b"], 16, step=3)
    assert p.take == [] and len(p.release) == 3
    assert p.release == preference("a", list(range(16)))[::-1][:3]   # the ones it ranks last
    assert len(plan("a", full, ["a", "b"], 16).release) == 8
    # the newcomer takes what is free, up to its share
    half = _leases({i: "a" for i in range(8)}, 16)
    assert sorted(plan("b", half, ["a", "b"], 16).take) == list(range(8, 16))


def test_nothing_released_for_nobody():
    # above its share but nobody is short: keep them (a release costs a rebuild elsewhere)
    holders = {i: "a" for i in range(10)} | {i: "b" for i in range(10, 16)}
    assert plan("a", _leases(holders, 16), ["a"], 16).release == []
    # someone short, but free partitions cover it: still nothing released
    holders = {i: "a" for i in range(8)} | {i: "b" for i in range(8, 12)}
    p = plan("a", _leases(holders, 16), ["a", "b"], 16)
    assert p.release == [] and p.take == []


def test_a_dead_detectors_partitions_are_taken():
    holders = {i: "a" for i in range(8)} | {i: "b" for i in range(8, 16)}
    # b's leases expired and its membership too: a takes all of them
    p = plan("a", _leases(holders, 16, dead={"b"}), ["a"], 16)
    assert sorted(p.take) == list(range(8, 16))
    # b's leases still running: nothing to take yet
    assert plan("a", _leases(holders, 16), ["a"], 16).take == []
    # three left after one died: the two survivors share its partitions
    holders = {i: "a" for i in range(5)} | {i: "b" for i in range(5, 10)} | \
        {i: "c" for i in range(10, 16)}
    p = plan("a", _leases(holders, 16, dead={"c"}), ["a", "b"], 16)
    assert len(p.take) == 3


# -- against the database ---------------------------------------------------------------------
def test_partition_key_is_the_same_in_sql(conn):
    ids = list(range(1, 3000, 7)) + [2**31 - 1]
    rows = conn.execute("SELECT h, anju_partition(h, 64), anju_partition(h, 7)"
                        " FROM unnest(%s::bigint[]) h", (ids,)).fetchall()
    assert [(r[1], r[2]) for r in rows] == [(partition_of(h, 64), partition_of(h, 7))
                                            for h in ids]


class Detector(Service):
    """A partitioned detector service in this event loop."""

    def __init__(self, db_url: str, clock: Callable[[], float] = time.time,
                 lease_s: float = LEASE) -> None:
        super().__init__(db_url, clock=clock, partitions=P, lease_s=lease_s)

    @property
    def held(self) -> set[int]:
        assert self.svc.leases is not None
        return set(self.svc.leases.epoch)


def _home_id(conn, code: str) -> int:
    return conn.execute("SELECT id FROM homes WHERE code = %s", (code,)).fetchone()[0]


def _free_leases(conn) -> None:
    """Leases left by an earlier test's crashed detector need not be waited for."""
    conn.execute("UPDATE detector_leases SET holder = NULL, expires_at = '-infinity'")
    conn.execute("DELETE FROM detector_members")


async def _split(a: Detector, b: Detector) -> None:
    await wait_until(lambda: len(a.held) + len(b.held) == P and
                     abs(len(a.held) - len(b.held)) <= 1, 20)
    await wait_until(lambda: a.svc._parts == a.held and b.svc._parts == b.held, 5)


async def test_two_detectors_split_then_one_crashes(db_url, conn, home_factory):
    """Two detectors share the partitions; one is killed; the other takes its partitions
    within the lease time, and an inactivity deadline of a home it took fires once."""
    _free_leases(conn)
    t0 = time.time() - 20 * 3600
    # the countdown home of test_countdown_survives_a_kill, and some others
    code, devs = home_factory([("motion", "bedroom"), ("water", "kitchen")])
    pir, meter = devs["motion-bedroom"].id, devs["water-kitchen"].id
    insert_reading(conn, pir, 1, t0, 1)
    for i in range(0, 20 * 6):
        insert_reading(conn, meter, 5, t0 - 600 + i * 600, 1000.0, i)
    others = {}
    for _ in range(10):
        c, d = home_factory([("motion", "living_room")])
        others[_home_id(conn, c)] = d["motion-living_room"].id
    hid = _home_id(conn, code)
    mine = {hid, *others}

    clock = [t0 + 120]
    a = Detector(db_url, lambda: clock[0])
    await a.started()
    b = Detector(db_url, lambda: clock[0])
    await b.started()
    await _split(a, b)
    assert not a.held & b.held
    # each watches the homes of its own partitions only, and between them every home
    for d in (a, b):
        assert {partition_of(h, P) for h in d.svc.homes} <= d.held
        assert set(d.svc.device_home.values()) <= set(d.svc.homes)
    assert mine <= set(a.svc.homes) | set(b.svc.homes)
    assert not set(a.svc.homes) & set(b.svc.homes)

    # a reading of a home is read by its holder alone
    holder = a if hid in a.svc.homes else b
    other = b if holder is a else a
    theirs = next(h for h in others if h in other.svc.homes)
    before = (holder.svc.stats.events, other.svc.stats.events)
    insert_reading(conn, others[theirs], 1, t0 + 100, 1, 7)
    conn.execute("SELECT pg_notify('anju_readings', %s)", (str(others[theirs]),))
    await wait_until(lambda: other.svc.stats.events > before[1], 5)
    await asyncio.sleep(0.3)
    assert holder.svc.stats.events == before[0]

    deadline = holder.svc.homes[hid].monitor.next_deadline()
    assert deadline is not None and t0 + 120 < deadline < time.time()
    lost = set(holder.held)
    holder.kill()
    killed = time.monotonic()
    # as it dies, the home's inactivity countdown (hours since the last movement) is due
    clock[0] = time.time()

    def inactivity() -> list[tuple]:
        return [x for x in alerts_of(conn, code) if x[0] == "inactivity"]

    await wait_until(lambda: bool(inactivity()), LEASE + 5, 0.05)
    late = time.monotonic() - killed
    await wait_until(lambda: other.held == set(range(P)), 5)
    took = min(t for t, p in other.svc.leases.taken if p in lost and t > killed) - killed
    print(f"\ntakeover {took:.2f} s after the crash; alert {late:.2f} s after its deadline"
          f" (lease {LEASE} s)")
    assert took <= LEASE + 0.5, took
    assert late <= LEASE + 1.5, late
    assert hid in other.svc.homes
    await asyncio.sleep(1.0)
    alerts = inactivity()
    assert len(alerts) == 1 and alerts[0][1] == "open", alerts
    assert t0 < alerts[0][2].timestamp() < clock[0] - 600    # when it was due, not at takeover
    assert other.svc.stats.fenced == 0
    await other.close()


async def test_clean_stop_hands_over_at_once(db_url, conn, home_factory):
    """A detector stopped cleanly releases its partitions: the other takes them within a
    renewal period, not a lease time."""
    _free_leases(conn)
    for _ in range(3):
        home_factory([("motion", "bedroom")])
    a = Detector(db_url, lease_s=6.0)
    await a.started()
    b = Detector(db_url, lease_s=6.0)
    await b.started()
    await _split(a, b)
    stopped = time.monotonic()
    await b.close()
    await wait_until(lambda: a.held == set(range(P)), 6.0)
    took = time.monotonic() - stopped
    print(f"\nclean hand-over in {took:.2f} s (lease 6 s)")
    assert took < 6.0 / 3 + 1.0
    (free,) = conn.execute("SELECT count(*) FROM detector_leases WHERE partition < %s"
                           " AND holder IS DISTINCT FROM %s", (P, a.svc.leases.me)).fetchone()
    assert free == 0
    await a.close()
    (left,) = conn.execute("SELECT count(*) FROM detector_leases WHERE holder IS NOT NULL"
                           " AND expires_at > now()").fetchone()
    assert left == 0


async def test_a_write_after_losing_the_partition_is_refused(db_url, conn, home_factory):
    """A detector that has not noticed it lost a partition (its next renewal is seconds
    away) writes no alert for its homes: the epoch it shows is no longer the lease's."""
    _free_leases(conn)
    code, devs = home_factory([("button", "bedroom"), ("motion", "bedroom")])
    hid = _home_id(conn, code)
    part = partition_of(hid, P)
    a = Detector(db_url, lease_s=30.0)          # renewals every 10 s
    await a.started()
    await wait_until(lambda: hid in a.svc.homes, 10)
    # another detector takes the partition (as after a stall longer than the lease)
    conn.execute("UPDATE detector_leases SET holder = 'elsewhere', epoch = epoch + 1,"
                 " expires_at = now() + interval '60 s' WHERE partition = %s", (part,))
    btn = devs["button-bedroom"].id
    insert_reading(conn, btn, int(Kind.BUTTON), time.time(), 1)
    conn.execute("SELECT pg_notify('anju_readings', %s)", (str(btn),))
    await wait_until(lambda: a.svc.stats.fenced > 0, 5)
    assert [x for x in alerts_of(conn, code) if x[0] == "button"] == []
    await wait_until(lambda: hid not in a.svc.homes, 5)       # and it stops watching it
    assert part not in a.held
    # given back, the partition is taken again and the press, rebuilt, is alerted
    conn.execute("UPDATE detector_leases SET holder = NULL, expires_at = '-infinity'"
                 " WHERE partition = %s", (part,))
    await wait_until(lambda: hid in a.svc.homes, 15)
    await wait_until(lambda: bool([x for x in alerts_of(conn, code) if x[0] == "button"]), 5)
    await a.close()


async def test_a_renewal_that_cannot_get_through_stops_the_watching_in_time(
        db_url, conn, home_factory):
    """The lease rows locked by someone else (as a database too slow to answer): the
    detector stops watching its homes by its own clock while the database still shows the
    leases as its own, so nobody can have taken them yet; afterwards it takes them again."""
    _free_leases(conn)
    code, _ = home_factory([("motion", "bedroom")])
    hid = _home_id(conn, code)
    a = Detector(db_url)
    await a.started()
    await wait_until(lambda: hid in a.svc.homes and a.held == set(range(P)), 10)
    async with await psycopg.AsyncConnection.connect(db_url) as blocker:
        await blocker.execute("SELECT 1 FROM detector_leases WHERE partition < %s FOR UPDATE",
                              (P,))
        blocked = time.monotonic()
        await wait_until(lambda: hid not in a.svc.homes, LEASE + 1, 0.02)
        stopped = time.monotonic() - blocked
        (ours,) = conn.execute(
            "SELECT count(*) FROM detector_leases WHERE partition < %s AND holder = %s"
            " AND expires_at > clock_timestamp()", (P, a.svc.leases.me)).fetchone()
        await blocker.rollback()
    print(f"\nstopped watching {stopped:.2f} s after the renewals were blocked (lease {LEASE} s)")
    assert ours == P
    assert a.held == set() and a.svc.homes == {}
    await wait_until(lambda: hid in a.svc.homes, 2 * LEASE + 2)
    await a.close()
