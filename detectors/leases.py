"""The leases of a partitioned detector, kept in PostgreSQL (docs/detectors.md,
"Partitioned detectors"; the decisions are detectors/partitions.py's).

One task with its own connection, so that a long rebuild on the serving connection
never delays a renewal. Every round (lease_s/3, or sooner when another's lease is
about to run out): say this detector is live, renew what it holds, read every
lease, release extras if someone is short, take free or expired partitions.

Its own clock: a partition counts as held until `sent + 0.9 * lease_s` on the
monotonic clock, `sent` being taken before the renewal was sent. The database set
the expiry to its own now + lease_s after receiving it, so the detector stops
before anyone else may take the partition (the 10 % covers clocks running at
different rates). What it has not renewed by then it stops evaluating at once.
The writes are fenced too (fence()): the database's word is final.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from datetime import timedelta
from typing import Callable

import psycopg

from detectors import sql
from detectors.partitions import Lease, plan

log = logging.getLogger("anju.detect")
_OWN_CLOCK = 0.9


def worker_name(instance: str) -> str:
    """Unique per process: a restarted detector is a new holder and waits for the old
    one's leases to run out (it cannot know the old one is really gone)."""
    return f"{instance}@{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Leases:
    def __init__(self, database_url: str, *, partitions: int, lease_s: float = 30.0,
                 name: str, step: int = 8,
                 on_change: Callable[[], None] = lambda: None) -> None:
        self.database_url = database_url
        self.partitions = partitions
        self.lease_s = lease_s
        self.me = name
        self.step = step
        self.on_change = on_change
        self.epoch: dict[int, int] = {}           # partition held -> its epoch (fencing token)
        self.valid_until: dict[int, float] = {}   # partition -> held until (monotonic)
        self.ready = asyncio.Event()              # the first round is done
        self.rounds = 0
        self.taken: list[tuple[float, int]] = []  # (monotonic, partition) as taken, for figures

    # -- what the service asks -----------------------------------------------------------
    def held(self) -> set[int]:
        """The partitions held now by this detector's own clock; the rest are dropped."""
        now = time.monotonic()
        gone = [p for p, t in self.valid_until.items() if t <= now]
        for p in gone:
            self._drop(p)
        if gone:
            log.warning("partitions %s: lease not renewed in time; stopped watching them",
                        sorted(gone))
        return set(self.epoch)

    def next_expiry(self) -> float | None:
        """When (monotonic) the first held partition runs out by this detector's clock."""
        return min(self.valid_until.values(), default=None)

    async def fence(self, db: psycopg.AsyncConnection, parts: set[int]) -> set[int]:
        """In the writing transaction: which of `parts` are still ours. Their lease rows
        stay share-locked until the transaction ends, so no one takes them meanwhile."""
        mine = sorted(p for p in parts & self.held())
        if not mine:
            return set()
        rows = await (await db.execute(sql.FENCE, {
            "parts": mine, "epochs": [self.epoch[p] for p in mine], "me": self.me})).fetchall()
        ok = {r[0] for r in rows}
        for p in set(mine) - ok:
            self._drop(p)
        if set(mine) - ok:
            log.warning("partitions %s are no longer ours: their findings are not written",
                        sorted(set(mine) - ok))
            self.on_change()
        return ok

    def _drop(self, p: int) -> None:
        self.epoch.pop(p, None)
        self.valid_until.pop(p, None)

    # -- the task ------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Keep the leases until `stop`, then release them. Cancelled (a crash), it
        releases nothing: the leases run out and others take them."""
        attempt = 0
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(self.database_url) as conn:
                    await conn.execute(sql.LEASE_ROWS, (self.partitions,))
                    await conn.execute(sql.MEMBERS_FORGET)
                    await conn.commit()
                    attempt = 0
                    while not stop.is_set():
                        wait = await self._round(conn)
                        try:
                            await asyncio.wait_for(stop.wait(), wait)
                        except asyncio.TimeoutError:
                            pass
                    await self._leave(conn)
                    return
            except (psycopg.OperationalError, psycopg.InterfaceError, OSError) as e:
                attempt += 1
                log.warning("leases: database unavailable (%s); held partitions run out"
                            " by this detector's clock", str(e).strip().splitlines()[0]
                            if str(e).strip() else type(e).__name__)
                self.on_change()
                try:
                    await asyncio.wait_for(stop.wait(), min(self.lease_s / 3, 0.5 * attempt))
                except asyncio.TimeoutError:
                    pass

    async def _round(self, conn: psycopg.AsyncConnection) -> float:
        """One round; returns how long to wait before the next."""
        lease = timedelta(seconds=self.lease_s)
        before = set(self.epoch)
        sent = time.monotonic()
        await conn.execute(sql.MEMBER_BEAT, {"me": self.me, "n": self.partitions,
                                             "lease": lease})
        mine = sorted(self.held())
        renewed = {r[0] for r in await (await conn.execute(sql.RENEW, {
            "lease": lease, "parts": mine, "epochs": [self.epoch[p] for p in mine],
            "me": self.me})).fetchall()} if mine else set()
        rows = await (await conn.execute(sql.LEASES, (self.partitions,))).fetchall()
        members = [r[0] for r in await (await conn.execute(
            sql.MEMBERS_LIVE, (self.partitions,))).fetchall()]
        # what was not renewed is someone else's now (or free): not ours, whatever the rows say
        leases = [Lease(p, holder if (holder != self.me or p in renewed) else None,
                        bool(live) and (holder != self.me or p in renewed))
                  for p, holder, live, _ in rows]
        decided = plan(self.me, leases, members, self.partitions, step=self.step)
        release = [p for p in decided.release if p in renewed]
        if release:
            # stop evaluating them before they are free for another
            epochs = [self.epoch[p] for p in release]
            for p in release:
                renewed.discard(p)
                self._drop(p)
            self.on_change()
            await conn.execute(sql.RELEASE, {"parts": release, "epochs": epochs,
                                             "me": self.me})
        taken = await (await conn.execute(sql.ACQUIRE, {
            "parts": decided.take, "me": self.me, "lease": lease})).fetchall() \
            if decided.take else []
        await conn.commit()
        until = sent + _OWN_CLOCK * self.lease_s
        for p in set(self.epoch) - renewed:
            self._drop(p)
        for p in renewed & set(self.epoch):
            # (one given up by our clock while the renewal waited stays given up: it runs
            # out in the database and is taken again like any other)
            self.valid_until[p] = until
        now = time.monotonic()
        for p, epoch in taken:
            self.epoch[p] = epoch
            self.valid_until[p] = until
            self.taken.append((now, p))
        self.rounds += 1
        if release or taken or before - set(self.epoch):
            log.info("partitions: %d held (took %d, released %d, lost %d); %d detectors",
                     len(self.epoch), len(taken), len(release),
                     len(before - set(self.epoch) - set(release)), len(set(members) | {self.me}))
        if set(self.epoch) != before:
            self.on_change()
        self.ready.set()
        # look again when another's lease runs out: a dead detector's homes wait no longer
        others = [float(left) for _, holder, live, left in rows
                  if live and holder is not None and holder != self.me]
        wait = self.lease_s / 3
        if others:
            wait = min(wait, max(0.05, min(others) + 0.05))
        return wait

    async def _leave(self, conn: psycopg.AsyncConnection) -> None:
        """A clean stop: the partitions are free for the others at once."""
        mine = sorted(self.epoch)
        epochs = [self.epoch[p] for p in mine]
        self.epoch, self.valid_until = {}, {}
        self.on_change()
        try:
            if mine:
                await conn.execute(sql.RELEASE, {"parts": mine, "epochs": epochs,
                                                 "me": self.me})
            await conn.execute(sql.MEMBER_LEAVE, (self.me,))
            await conn.commit()
            log.info("partitions: released %d", len(mine))
        except psycopg.Error as e:
            log.warning("partitions: not released (%s); they run out in %.0f s", e, self.lease_s)
