"""Partitioned detectors: which homes a detector process watches, and which partitions
it should hold. Pure: detectors/leases.py keeps the leases in PostgreSQL.

- A home belongs to one of P partitions by a stable hash of its id (the same in
  SQL: the function anju_partition in migration 015, tested against this one).
- Each partition is held by at most one live detector, under a lease that the
  holder renews every lease_s/3. The live detectors are those whose membership
  row (renewed with the leases) has not expired.
- Fair share: with W live detectors, each should hold P // W partitions, and the
  first P % W of them by name one more. A detector short of its share takes free
  or expired partitions; one above it releases a few at a time, and only while
  another live detector is short (releasing costs a rebuild elsewhere, so it is
  done gently and never for nobody). A partition nobody else wants is taken even
  beyond the share: no home stays unwatched.
- Which partitions: each detector ranks partitions by a hash of (its name,
  partition) (rendezvous hashing). Two detectors starting at once prefer
  different partitions, and a detector releases those it ranks last.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# Knuth's multiplicative constant: the top bits of (id * K mod 2^32) spread ids that
# follow each other (homes added one after another, a community at a time) evenly.
_K = 2654435761
_M = 1 << 32


def partition_of(home_id: int, partitions: int) -> int:
    """The partition of a home (0 .. partitions-1), stable across processes and versions.
    Must equal anju_partition(home_id, partitions) in SQL."""
    return ((home_id * _K) % _M) * partitions // _M


def _rank(worker: str, partition: int) -> bytes:
    return hashlib.blake2b(f"{worker}/{partition}".encode(), digest_size=8).digest()


def preference(worker: str, partitions: list[int] | set[int]) -> list[int]:
    """The partitions in this worker's order of preference (rendezvous hashing)."""
    return sorted(partitions, key=lambda p: _rank(worker, p))


def targets(workers: list[str] | set[str], partitions: int) -> dict[str, int]:
    """Each live worker's fair share: P // W, one more for the first P % W by name."""
    names = sorted(workers)
    if not names:
        return {}
    base, extra = divmod(partitions, len(names))
    return {w: base + (1 if i < extra else 0) for i, w in enumerate(names)}


@dataclass(frozen=True)
class Lease:
    """One partition's row as read: who holds it (None: nobody) and whether it is live."""
    partition: int
    holder: str | None
    live: bool


@dataclass(frozen=True)
class Plan:
    take: list[int]        # free or expired partitions to try to acquire, best first
    release: list[int]     # partitions of mine to give up now


def plan(me: str, leases: list[Lease], members: list[str] | set[str], partitions: int,
         *, step: int = 8) -> Plan:
    """What `me` should do this round, given every partition's lease and the live members
    (`me` counts as one even before its own row is seen). Releases at most `step`."""
    live_members = set(members) | {me}
    share = targets(live_members, partitions)
    held: dict[str, int] = {w: 0 for w in live_members}
    mine: list[int] = []
    free: list[int] = []
    for lease in leases:
        if lease.partition >= partitions:
            continue
        if lease.holder is None or not lease.live:
            free.append(lease.partition)
            continue
        if lease.holder == me:
            mine.append(lease.partition)
        # a holder without a live membership row still counts as holding: its lease runs
        held[lease.holder] = held.get(lease.holder, 0) + 1
    deficit_others = sum(max(0, share[w] - held[w]) for w in live_members if w != me)
    want = max(0, share[me] - len(mine))
    # what nobody else is short of is taken too, beyond the share: no home unwatched
    spare = max(0, len(free) - want - deficit_others)
    take = preference(me, free)[:want + spare]
    release: list[int] = []
    extra = len(mine) - share[me]
    if extra > 0 and deficit_others > len(free):
        # someone is short and the free ones do not cover it: give up the ones ranked last
        n = min(extra, step, deficit_others - len(free))
        release = preference(me, mine)[::-1][:n]
    return Plan(take, release)
