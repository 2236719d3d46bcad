"""The live detector service (`anju detect`): readings and time in, alerts out.

- On start it rebuilds everything from the database: each home's monitor
  learns from its stored history, replays the last `replay_s` of events and
  is advanced to now (detectors/homes.py). A countdown killed mid-way
  therefore fires on time after a restart, and conditions found again are
  not alerted twice (an alert is one per home, kind and episode).
- New readings are read as the ingest notifies them (detectors/reader.py).
- Event time (docs/detectors.md): no reading is skipped for being older than
  the home's others. Each is observed with both its clocks; the monitor opens
  an emergency whatever its time and merges a late reading into what it knows.
- Time: every home's next deadline sits in one heap; the loop sleeps until
  the earliest, so 100,000 homes cost nothing while nothing is due.
- Findings pass the outage holds (detectors/holds.py) and the community
  bursts (detectors/bursts.py) and are written as alerts (detectors/writer.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import psycopg

from anju import heartbeats, pipeline, sdnotify
from detectors import sql
from detectors.bursts import Bursts
from detectors.config import ConfigError, DetectorConfig, merge
from detectors.events import DeviceInfo, Event, Finding, HomeInfo
from detectors.holds import Holds
from detectors.homes import Home, replay
from detectors.leases import Leases, worker_name
from detectors.monitor import HomeMonitor
from detectors.partitions import partition_of
from detectors.reader import COMMIT_MARGIN, Reader
from detectors.scheduler import Deadlines
from detectors.state import MOMENTARY, ExplicitAway
from detectors.writer import write_findings, write_incidents

__all__ = ["MOMENTARY", "DetectorService", "Home", "Stats"]

log = logging.getLogger("anju.detect")
UTC = timezone.utc
# each home's day is closed (routine features, fits, checks: ~1 ms) at its own point of the
# first MIDNIGHT_SPREAD_S after local midnight, not all at once (100,000 homes sharing a time
# zone were 100 s of one pass, with every reading, button and lease waiting behind them)
MIDNIGHT_SPREAD_S = 600.0
# the CPU one pass gives to due deadlines before it reads and writes again
DUE_BUDGET_S = 0.2
_AHEAD_S = 900.0   # beyond any device clock error the ingest accepts (max_future_s, 300 s)


def _ts(dt: datetime) -> float:
    return dt.timestamp()


def midnight_late(hid: int, spread_s: float = MIDNIGHT_SPREAD_S) -> float:
    """How long after local midnight the home's day is closed: its own point of the first
    `spread_s`, the homes spread evenly (the golden-ratio sequence of their ids)."""
    return spread_s * ((hid * 0.6180339887498949) % 1.0)


@dataclass
class Stats:
    events: int = 0
    findings: int = 0
    alerts_opened: int = 0
    alerts_cleared: int = 0
    reconnects: int = 0
    turns: int = 0              # passes of the serving loop completed (reads, deadlines, writes)
    fenced: int = 0             # findings not written: their partition was no longer ours
    # with record_lags: each deadline handled, as (home, deadline, how late)
    deadline_lags: list[tuple[int, float, float]] = field(default_factory=list)


class DetectorService:
    def __init__(self, database_url: str, *, clock: Callable[[], float] = time.time,
                 replay_s: float = 86400, learn_days: int = 28, relearn_s: float = 86400,
                 refresh_s: float = 10.0, record_lags: bool = False,
                 instance: str = "detect", late_window_s: float = 900,
                 partitions: int = 0, lease_s: float = 30.0,
                 midnight_spread_s: float = MIDNIGHT_SPREAD_S) -> None:
        self.database_url = database_url
        self.instance = instance
        self.clock = clock
        self.replay_s = replay_s
        self.learn_days = learn_days
        self.relearn_s = relearn_s
        self.refresh_s = refresh_s
        self.midnight_spread_s = midnight_spread_s
        self.homes: dict[int, Home] = {}
        self.device_home: dict[int, int] = {}
        self.device_uid: dict[str, int] = {}
        self.reader = Reader(self.homes, self.device_home, late_window_s)
        self.deadlines = Deadlines()
        self.pending: set[int] = set()
        self.wake = asyncio.Event()
        self.stats = Stats()
        self.record_lags = record_lags
        self.ready = asyncio.Event()
        self._settings: dict[tuple[str, int], dict[str, Any]] = {}
        self._configs: dict[int, DetectorConfig] = {}   # by community, for homes without their own
        self._fresh: set[int] = set()   # homes whose monitor was just made and never fed
        self.away: dict[int, list[ExplicitAway]] = {}
        self._changed: tuple[Any, ...] | None = None
        self.holds = Holds()
        self.bursts = Bursts()
        self._pipeline_checked = -1e9
        # Partitioned (docs/detectors.md): only the homes of the partitions leased are
        # watched; 0 partitions: every home, as one process.
        self.leases = Leases(database_url, partitions=partitions, lease_s=lease_s,
                             name=worker_name(instance), on_change=self.wake.set) \
            if partitions > 0 else None
        self._parts: set[int] = set()
        self._keeper: asyncio.Task[None] | None = None

    # -- building monitors -------------------------------------------------
    def _config(self, home_id: int, community_id: int) -> DetectorConfig:
        # A home without settings of its own has its community's: one (frozen) config shared
        # by all of them, made once per reading of the settings, not once per home.
        own = ("home", home_id) in self._settings
        if not own and community_id in self._configs:
            return self._configs[community_id]
        try:
            cfg = merge(self._settings.get(("community", community_id), {}),
                        self._settings.get(("home", home_id), {}))
        except ConfigError as e:
            log.error("home %s: detector settings refused (%s); using defaults", home_id, e)
            return merge({}, {})
        if not own:
            self._configs[community_id] = cfg
        return cfg

    async def _load_registry(self, db: psycopg.AsyncConnection) -> list[int]:
        """Read homes, devices and settings; returns the ids of homes new or changed."""
        self._settings = {(scope, sid): s for scope, sid, s in
                          await (await db.execute(sql.LOAD_SETTINGS)).fetchall()}
        self._configs = {}
        devices: dict[int, list[tuple[int, DeviceInfo]]] = {}
        words: dict[str, str] = {}
        if self.leases is None:
            dev_q, home_q, args = sql.LOAD_DEVICES, sql.LOAD_HOMES, None
        else:
            dev_q, home_q = sql.LOAD_DEVICES_IN, sql.LOAD_HOMES_IN
            args = (self.leases.partitions, sorted(self._parts))
        for did, uid, home_id, kind, room, hb, last_seen in \
                await (await db.execute(dev_q, args)).fetchall():
            # one string for each kind and room name, not one per device (300,000 devices)
            kind, room = words.setdefault(kind, kind), words.setdefault(room, room)
            devices.setdefault(home_id, []).append((did, DeviceInfo(uid, kind, room, hb)))
            self.device_home[did] = home_id
            self.device_uid[uid] = did
        changed = []
        for hid, code, tz, community_id in await (await db.execute(home_q, args)).fetchall():
            devs = dict(devices.get(hid, []))
            tz = words.setdefault(tz, tz)
            old = self.homes.get(hid)
            info = HomeInfo(code, tz, tuple(devs.values()))
            if old is not None and old.devices == devs and old.tz == tz:
                continue
            monitor = HomeMonitor(info, self._config(hid, community_id))
            self.homes[hid] = Home(hid, code, tz, community_id, monitor, devs)
            self._fresh.add(hid)
            changed.append(hid)
        return changed

    async def _rebuild_all(self, db: psycopg.AsyncConnection, hids: list[int], now: float) -> None:
        for i in range(0, len(hids), 500):
            chunk = hids[i:i + 500]
            db_now = await self.reader.start_rebuild(db, chunk)
            # Up to what a fast device clock may stamp: a reading stored while this service
            # was down, later than `now`, is in no other read (its notification went to the
            # process that died) and may be a button press.
            histories = await self.reader.histories(
                db, chunk, now - self.replay_s - self.learn_days * 86400, now + _AHEAD_S,
                stored_since=db_now - COMMIT_MARGIN)
            await self.reader.last_heard(db, chunk, histories, now)
            for hid in chunk:
                await self._write(db, [(hid, f) for f in self._rebuild(hid, histories[hid], now)])
                await asyncio.sleep(0)   # the lease task renews while homes are rebuilt
            await db.commit()

    def _rebuild(self, hid: int, history: list[Event], now: float) -> list[Finding]:
        """A fresh monitor: learn from history, replay the recent past, advance to now."""
        home = self.homes[hid]
        fresh = hid in self._fresh
        self._fresh.discard(hid)
        # a monitor just made by _load_registry with these settings, never fed nor advanced,
        # is used as is (a rebuild cut short by a lost database leaves it to be fed)
        if not fresh or home.monitor.last_ts != 0.0:
            home.monitor = HomeMonitor(home.monitor.home, self._config(hid, home.community_id))
        self.reader.read_on_from(home, history, now - self.replay_s, self.device_uid)
        if not home.devices:
            return []
        findings = replay(home, history, now, replay_s=self.replay_s, learn_days=self.learn_days,
                          relearn_s=self.relearn_s, away=self.away.get(hid, ()))
        self._schedule(hid, home)
        return findings

    async def _load_away(self, db: psycopg.AsyncConnection) -> list[int]:
        """Read current away periods; returns the homes whose periods changed."""
        away: dict[int, list[ExplicitAway]] = {}
        for hid, starts, ends, reason in await (await db.execute(sql.LOAD_AWAY)).fetchall():
            away.setdefault(hid, []).append(
                ExplicitAway(_ts(starts), _ts(ends) if ends else None, reason))
        changed = [h for h in set(away) | set(self.away) if away.get(h) != self.away.get(h)]
        self.away = away
        return changed

    # -- events and time ---------------------------------------------------
    async def _write(self, db: psycopg.AsyncConnection,
                     findings: list[tuple[int, Finding]]) -> None:
        if self.leases is not None and findings:
            findings = await self._fenced(db, findings)
        self.stats.findings += len(findings)
        opened, cleared = await write_findings(db, findings, self.device_uid)
        self.stats.alerts_opened += opened
        self.stats.alerts_cleared += cleared

    async def _fenced(self, db: psycopg.AsyncConnection,
                      findings: list[tuple[int, Finding]]) -> list[tuple[int, Finding]]:
        """Only the findings of partitions still ours, checked in this transaction (the
        fencing token, detectors/leases.py): a detector that lost a partition while it
        stalled writes nothing for its homes."""
        assert self.leases is not None
        n = self.leases.partitions
        ok = await self.leases.fence(db, {partition_of(h, n) for h, _ in findings})
        kept = [(h, f) for h, f in findings if partition_of(h, n) in ok]
        self.stats.fenced += len(findings) - len(kept)
        return kept

    # -- partitions (when partitioned) ---------------------------------------------------
    async def _repartition(self, db: psycopg.AsyncConnection) -> None:
        """Drop the homes of partitions lost; take on those of partitions gained, rebuilt
        from the database as at a restart (their deadlines due meanwhile fire now)."""
        if self.leases is None:
            return
        self._check_keeper()
        held = self.leases.held()
        n = self.leases.partitions
        lost, gained = self._parts - held, held - self._parts
        if lost:
            gone = [h for h in self.homes if partition_of(h, n) in lost]
            self._drop(gone)
            log.info("partitions %s left: %d homes no longer watched here", sorted(lost),
                     len(gone))
        self._parts = held
        if gained:
            now = self.clock()
            changed = await self._load_registry(db)
            await self._rebuild_all(db, changed, now)
            await db.commit()
            log.info("partitions %s taken: watching %d homes", sorted(gained), len(self.homes))

    def _check_keeper(self) -> None:
        # the lease task ended by a fault of its own (not a lost database, which it waits
        # for): the service must not go on believing it holds anything
        if self._keeper is not None and self._keeper.done() and not self._keeper.cancelled():
            self._keeper.result()

    def _drop(self, hids: list[int]) -> None:
        r = self.reader
        for hid in hids:
            home = self.homes.pop(hid)
            self.deadlines.set(hid, None)
            self._fresh.discard(hid)
            for did, dev in home.devices.items():
                self.device_home.pop(did, None)
                self.device_uid.pop(dev.uid, None)
                for m in (r.cursor, r.mark, r.read_keys, r.seen):
                    m.pop(did, None)   # type: ignore[attr-defined]

    async def _read_new(self, db: psycopg.AsyncConnection) -> dict[int, list[Finding]]:
        ids = [d for d in self.pending if d in self.device_home]
        self.pending.clear()
        if not ids:
            return {}
        events = await self.reader.read_new(db, ids)
        out: dict[int, list[Finding]] = {}
        for hid, evs in events.items():
            home = self.homes[hid]
            # In device time as far as this read goes. A reading older than what the home
            # has already seen is not skipped: the monitor opens an emergency whatever its
            # time and merges anything else into its picture, never moving its clock back.
            # Heartbeats carry anju's time of the last message: they advance the monitor as
            # time passing does, and decide nothing about the order of readings.
            evs.sort(key=lambda e: e.ts)
            found: list[Finding] = []
            for e in evs:
                found.extend(home.monitor.observe(e))
                self.stats.events += 1
            if found:
                out[hid] = found
            self._schedule(hid, home)
        return out

    def _schedule(self, hid: int, home: Home) -> None:
        self.deadlines.set(hid, home.monitor.next_deadline(
            midnight_late(hid, self.midnight_spread_s)))

    def _due(self, now: float, budget_s: float = DUE_BUDGET_S) -> dict[int, list[Finding]]:
        """Advance the homes whose deadline is due, for at most `budget_s` of CPU: the rest
        stay due for the next pass (at once), so that a pass that finds thousands of homes
        due (every midnight after a restart at 00:30) does not keep readings, buttons and
        writes waiting behind all of them."""
        out: dict[int, list[Finding]] = {}
        due = self.deadlines.pop_due(now)
        stop = time.process_time() + budget_s
        for n, (deadline, hid) in enumerate(due):
            if n and time.process_time() > stop:
                for later, rest in due[n:]:
                    self.deadlines.set(rest, later)
                break
            home = self.homes.get(hid)  # type: ignore[call-overload]
            if home is None:
                continue
            if self.record_lags:
                self.stats.deadline_lags.append((hid, deadline, now - deadline))
            found = home.monitor.advance(now)
            if found:
                out[hid] = found  # type: ignore[index]
            self._schedule(hid, home)
        return out

    # -- the loop ----------------------------------------------------------
    async def _listen(self, url: str, listening: asyncio.Event) -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute("LISTEN anju_readings")
            listening.set()
            self.ready.set()
            async for n in conn.notifies():
                self.pending.update(int(x) for x in n.payload.split(",") if x)
                self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop`; a lost database is waited for, never the end of the service.

        After a reconnection the monitors are kept: the LISTEN is set up again and
        every device is read on from its cursor, which catches up what was missed.
        Partitioned, the leases are kept by a task of their own; stopped, it releases
        them; cancelled (a crash), it leaves them to run out.
        """
        if self.leases is None:
            return await self._run(stop)
        keeper = self._keeper = asyncio.create_task(self.leases.run(stop))
        try:
            await self._run(stop)
        finally:
            if stop.is_set() and not keeper.done():
                await asyncio.wait({keeper}, timeout=10)
            keeper.cancel()

    async def _run(self, stop: asyncio.Event) -> None:
        attempt = 0
        while not stop.is_set():
            listening = asyncio.Event()
            listener = asyncio.create_task(self._listen(self.database_url, listening))
            try:
                await self._serve(stop, listener, listening)
                return
            except (psycopg.OperationalError, psycopg.InterfaceError, OSError) as e:
                attempt += 1
                delay = random.uniform(0, min(15.0, 0.5 * 2 ** attempt))
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                log.warning("database unavailable (%s); reconnecting in %.1f s", first, delay)
                self.stats.reconnects += 1
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                except asyncio.TimeoutError:
                    pass
                # waiting for the database is turning, not stuck: a restart would cost a
                # full rebuild and bring the database back no sooner
                sdnotify.watchdog()
            finally:
                listener.cancel()
                try:
                    await listener
                except (asyncio.CancelledError, psycopg.Error, OSError):
                    pass

    async def _pipeline(self, db: psycopg.AsyncConnection) -> None:
        """Every few seconds: is data known to be missing? (see detectors/holds.py)"""
        if time.monotonic() - self._pipeline_checked < 5:
            return
        self._pipeline_checked = time.monotonic()
        now = self.clock()
        mark = pipeline.watermark(await pipeline.read(db), datetime.fromtimestamp(now, UTC))
        was = self.holds.holding
        self.holds.pipeline(pipeline.interrupted(mark, datetime.fromtimestamp(now, UTC)), now)
        if self.holds.holding and not was:
            log.warning("data pipeline interrupted (complete to %s): absence findings held",
                        mark)

    async def _serve(self, stop: asyncio.Event, listener: asyncio.Task[None],
                     listening: asyncio.Event) -> None:
        async with await psycopg.AsyncConnection.connect(self.database_url) as db:
            if self.leases is not None:
                # a write stalled inside its transaction holds its partitions' lease rows
                # (the fence): the server ends it, so a take waits a bounded time
                limit = int(1000 * max(60.0, 2 * self.leases.lease_s))
                await db.execute(f"SET idle_in_transaction_session_timeout = {limit}")
                await db.commit()
            # Listen first, then rebuild: a reading committed in between is
            # both in the history and notified, and the cursor skips it once.
            await asyncio.wait({listener, asyncio.ensure_future(listening.wait())},
                               return_when=asyncio.FIRST_COMPLETED)
            if listener.done():
                listener.result()
            if self._changed is None:
                if self.leases is not None:
                    # which homes are ours: after the first round of the leases
                    waits = {asyncio.ensure_future(self.leases.ready.wait()),
                             asyncio.ensure_future(stop.wait())}
                    await asyncio.wait(waits | {self._keeper} if self._keeper else waits,
                                       return_when=asyncio.FIRST_COMPLETED)
                    for w in waits:
                        w.cancel()
                    self._check_keeper()
                    self._parts = self.leases.held()
                now = self.clock()
                changed = await self._load_registry(db)
                await self._load_away(db)
                await self._rebuild_all(db, changed, now)
                self._changed = await (await db.execute(sql.CHANGED)).fetchone()
                await db.commit()
                log.info("watching %d homes", len(self.homes))
                sdnotify.ready(f"watching {len(self.homes)} homes")
            else:
                # back after losing the database: read on from every device's cursor
                self.pending.update(self.device_home)
                await self._refresh(db)
                log.info("database reachable again; catching up %d devices",
                         len(self.device_home))
            # beat at once: a restarted service says it is back now, not a refresh later
            next_refresh = time.monotonic()
            while not stop.is_set():
                nxt = self.deadlines.next()
                timeout = min(max(0.0, next_refresh - time.monotonic()),
                              max(0.0, (nxt - self.clock())) if nxt else 1e9)
                if self.leases is not None:
                    # a partition not renewed in time is dropped at its hour, by our clock
                    until = self.leases.next_expiry()
                    if until is not None:
                        timeout = min(timeout, max(0.0, until - time.monotonic()))
                self.wake.clear()
                if not self.pending:
                    try:
                        await asyncio.wait_for(self.wake.wait(), timeout)
                    except asyncio.TimeoutError:
                        pass
                if listener.done():
                    listener.result()  # the LISTEN connection died: reconnect (run())
                await self._repartition(db)
                await self._pipeline(db)
                found = await self._read_new(db)
                now = self.clock()
                for hid, fs in self._due(now).items():
                    found.setdefault(hid, []).extend(fs)
                todo = self.holds.filter([(hid, f) for hid, fs in found.items() for f in fs], now)
                released = self.holds.release(now)
                if released:
                    log.info("data pipeline restored: %d held finding(s) still true, raised",
                             len(released))
                todo += released
                # only the homes with findings this pass (a map of every home, made on
                # every pass, was a quarter of an idle pass at 100,000 homes)
                community_of = {hid: self.homes[hid].community_id for hid, _ in todo
                                if hid in self.homes}
                todo = self.bursts.filter(todo, community_of, now)
                todo += self.bursts.due(now)
                await self._write(db, todo)
                await write_incidents(db, self.bursts, self.homes, now)
                await db.commit()
                self.stats.turns += 1
                sdnotify.watchdog()   # a pass completed: one that hangs stops the pings
                if time.monotonic() >= next_refresh:
                    await self._refresh(db)
                    await heartbeats.beat(db, "detectors", self.instance, self.stats.events)
                    await db.commit()
                    next_refresh = time.monotonic() + self.refresh_s

    async def _refresh(self, db: psycopg.AsyncConnection) -> None:
        """Pick up new homes, devices, settings and away periods; relearn stale homes."""
        now = self.clock()
        changed_now = await (await db.execute(sql.CHANGED)).fetchone()
        if changed_now != self._changed:
            self._changed = changed_now
            changed = set(await self._load_registry(db)) | set(await self._load_away(db))
            # a changed away period is replayed too: its effect depends on the events
            await self._rebuild_all(db, sorted(h for h in changed if h in self.homes), now)
        stale = [h.id for h in self.homes.values() if now >= h.relearn_at][:500]
        if stale:
            histories = await self.reader.histories(db, stale, now - self.learn_days * 86400,
                                                    now)
            for hid in stale:
                home = self.homes[hid]
                home.monitor.learn(histories[hid], now)
                home.learned(now, self.relearn_s)
                self._schedule(hid, home)
        await db.commit()
