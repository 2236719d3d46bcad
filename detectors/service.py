"""The live detector service (`anju detect`): readings and time in, alerts out.

- On start it rebuilds everything from the database: each home's monitor
  learns from its stored history, replays the last `replay_s` of events and
  is advanced to now. A countdown killed mid-way therefore fires on time
  after a restart, and conditions found again are not alerted twice (an
  alert is one per home, kind and episode).
- New readings arrive by LISTEN anju_readings (the ingest notifies the device
  ids of each committed batch); the service reads them from the readings
  table after each device's cursor, and a device's late ones (behind its
  cursor by up to `late_window_s`) by when they were stored.
- Event time (docs/detectors.md): no reading is skipped for being older than
  the home's others. Each is observed with both its clocks; the monitor opens
  an emergency whatever its time and merges a late reading into what it knows.
- Time: every home's next deadline sits in one heap; the loop sleeps until
  the earliest, so 100,000 homes cost nothing while nothing is due.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo
from typing import Any, Callable, Iterable

import psycopg
from psycopg.types.json import Jsonb

from anju import heartbeats, pipeline
from anju.contract import Kind
from alerts import store
from detectors import sql
from detectors.config import ConfigError, merge
from detectors.events import DeviceInfo, Event, Finding, HomeInfo
from detectors.bursts import Bursts
from detectors.holds import Holds
from detectors.monitor import MOMENTARY, HomeMonitor
from detectors.scheduler import Deadlines

log = logging.getLogger("anju.detect")
UTC = timezone.utc
_KIND_LABEL = {int(k): k.label for k in Kind}
_EPOCH = datetime.fromtimestamp(0, UTC)
# A reading is stamped with its write's transaction start and seen at its commit: rows
# stored this long before the newest one read may still be new to the reader.
_COMMIT_MARGIN = timedelta(seconds=60)
_AHEAD_S = 900.0   # beyond any device clock error the ingest accepts (max_future_s, 300 s)
Key = tuple[datetime, int, int]      # a reading's (ts, kind, seq) for one device


def _ts(dt: datetime) -> float:
    return dt.timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _heartbeat(dev: DeviceInfo, last_seen: datetime, battery: float | None) -> Event:
    """A device's last message as an event; its value is the battery level (NaN: none)."""
    return Event(_ts(last_seen), dev.uid, "heartbeat",
                 float("nan") if battery is None else float(battery), dev.room)


def _next_noon(t: float, tz: str) -> float:
    """The first local noon after t: homes re-learn then, when their residents are up
    (re-learning in the middle of someone's night would cut the night in two)."""
    local = datetime.fromtimestamp(t, ZoneInfo(tz))
    noon = local.replace(hour=12, minute=0, second=0, microsecond=0)
    if noon.timestamp() <= t:
        noon = (local + timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    return noon.timestamp()


@dataclass
class Home:
    id: int
    code: str
    tz: str
    community_id: int
    monitor: HomeMonitor
    devices: dict[int, DeviceInfo] = field(default_factory=dict)
    relearn_at: float = 0.0       # when to learn again: the next local noon, at most a day on

    def learned(self, at: float, relearn_s: float) -> None:
        # worked out once here rather than for every home at every refresh (100,000 homes'
        # local noons take about a second to work out)
        self.relearn_at = min(_next_noon(at, self.tz), at + relearn_s)


@dataclass
class Stats:
    events: int = 0
    findings: int = 0
    alerts_opened: int = 0
    alerts_cleared: int = 0
    reconnects: int = 0
    turns: int = 0              # passes of the serving loop completed (reads, deadlines, writes)
    deadline_lags: list[float] = field(default_factory=list)


class DetectorService:
    def __init__(self, database_url: str, *, clock: Callable[[], float] = time.time,
                 replay_s: float = 86400, learn_days: int = 28, relearn_s: float = 86400,
                 refresh_s: float = 10.0, record_lags: bool = False,
                 instance: str = "detect", late_window_s: float = 900) -> None:
        self.database_url = database_url
        self.instance = instance
        self.clock = clock
        self.replay_s = replay_s
        self.learn_days = learn_days
        self.relearn_s = relearn_s
        self.refresh_s = refresh_s
        self.homes: dict[int, Home] = {}
        self.device_home: dict[int, int] = {}
        self.device_uid: dict[str, int] = {}
        self.cursor: dict[int, datetime] = {}     # device id -> newest reading ts read
        # A device's own late readings (a gateway flushing its buffer out of order) are read
        # by when they were stored: the newest storing time read (the mark), and the rows read
        # since the mark less the commit margin, which a read may return again.
        self.late_window = timedelta(seconds=late_window_s)
        self.mark: dict[int, datetime] = {}
        self.read_keys: dict[int, dict[Key, datetime]] = {}
        self.seen: dict[int, datetime] = {}       # device id -> last_seen read
        self.deadlines = Deadlines()
        self.pending: set[int] = set()
        self.wake = asyncio.Event()
        self.stats = Stats()
        self.record_lags = record_lags
        self.ready = asyncio.Event()
        self._settings: dict[tuple[str, int], dict[str, Any]] = {}
        self.away: dict[int, list[tuple[float, float | None, str]]] = {}
        self._changed: tuple[Any, ...] | None = None
        self.holds = Holds()
        self.bursts = Bursts()
        self._pipeline_checked = -1e9

    # -- building monitors -------------------------------------------------
    def _config(self, home_id: int, community_id: int) -> Any:
        try:
            return merge(self._settings.get(("community", community_id), {}),
                         self._settings.get(("home", home_id), {}))
        except ConfigError as e:
            log.error("home %s: detector settings refused (%s); using defaults", home_id, e)
            return merge({}, {})

    async def _load_registry(self, db: psycopg.AsyncConnection) -> list[int]:
        """Read homes, devices and settings; returns the ids of homes new or changed."""
        self._settings = {(scope, sid): s for scope, sid, s in
                          await (await db.execute(sql.LOAD_SETTINGS)).fetchall()}
        devices: dict[int, list[tuple[int, DeviceInfo]]] = {}
        for did, uid, home_id, kind, room, hb, last_seen in \
                await (await db.execute(sql.LOAD_DEVICES)).fetchall():
            devices.setdefault(home_id, []).append((did, DeviceInfo(uid, kind, room, hb)))
            self.device_home[did] = home_id
            self.device_uid[uid] = did
        changed = []
        for hid, code, tz, community_id in await (await db.execute(sql.LOAD_HOMES)).fetchall():
            devs = dict(devices.get(hid, []))
            old = self.homes.get(hid)
            info = HomeInfo(code, tz, tuple(devs.values()))
            if old is not None and old.devices == devs and old.tz == tz:
                continue
            monitor = HomeMonitor(info, self._config(hid, community_id))
            self.homes[hid] = Home(hid, code, tz, community_id, monitor, devs)
            changed.append(hid)
        return changed

    async def _histories(self, db: psycopg.AsyncConnection, hids: list[int], start: float,
                         end: float, stored_since: datetime | None = None
                         ) -> dict[int, list[Event]]:
        """The events of many homes at once (one query per few hundred homes). With
        `stored_since`, the rows stored since then are noted as read (a rebuild's)."""
        out: dict[int, list[Event]] = {h: [] for h in hids}
        for i in range(0, len(hids), 500):
            devs = [d for h in hids[i:i + 500] for d in self.homes[h].devices]
            cur = await db.execute(sql.HOME_READINGS, (devs, _dt(start), _dt(end)))
            for ts, did, kind, value, seq, received in await cur.fetchall():
                hid = self.device_home[did]
                dev = self.homes[hid].devices[did]
                if stored_since is not None and received is not None and \
                        received >= stored_since:
                    self.read_keys.setdefault(did, {})[(ts, kind, seq)] = received
                out[hid].append(Event(_ts(ts), dev.uid, _KIND_LABEL[kind], value, dev.room,
                                      None if received is None else _ts(received)))
        return out

    async def _rebuild_all(self, db: psycopg.AsyncConnection, hids: list[int], now: float) -> None:
        for i in range(0, len(hids), 500):
            chunk = hids[i:i + 500]
            (db_now,) = await (await db.execute(sql.DB_NOW)).fetchone()  # type: ignore[misc]
            for hid in chunk:
                for did in self.homes[hid].devices:
                    self.mark[did] = db_now
                    self.read_keys.pop(did, None)
            # Up to what a fast device clock may stamp: a reading stored while this service
            # was down, later than `now`, is in no other read (its notification went to the
            # process that died) and may be a button press.
            histories = await self._histories(
                db, chunk, now - self.replay_s - self.learn_days * 86400, now + _AHEAD_S,
                stored_since=db_now - _COMMIT_MARGIN)
            await self._last_heard(db, chunk, histories, now)
            for hid in chunk:
                await self._write(db, hid, self._rebuild(hid, histories[hid], now))
            await db.commit()

    async def _last_heard(self, db: psycopg.AsyncConnection, hids: list[int],
                          histories: dict[int, list[Event]], now: float) -> None:
        """Each device's last message, as a heartbeat at its place in the history.

        Heartbeats are not readings: only the latest is stored (devices.last_seen). Without
        it a rebuilt monitor would not know the device reports at all, and a device that
        went silent before a restart would never be reported offline."""
        devs = [d for h in hids for d in self.homes[h].devices]
        for did, last_seen, battery in await (await db.execute(sql.DEVICES_SEEN, (devs,))
                                              ).fetchall():
            if last_seen is None or _ts(last_seen) > now:
                continue  # heard after `now` (a clock set back in a replay): read as new
            self.seen[did] = last_seen
            hid = self.device_home[did]
            dev = self.homes[hid].devices[did]
            bisect.insort(histories[hid], _heartbeat(dev, last_seen, battery), key=lambda e: e.ts)

    def _rebuild(self, hid: int, history: list[Event], now: float) -> list[Finding]:
        """A fresh monitor: learn from history, replay the recent past, advance to now."""
        home = self.homes[hid]
        home.monitor = HomeMonitor(home.monitor.home, self._config(hid, home.community_id))
        replay_from = now - self.replay_s
        # Read on from what this history holds: a reading committed after the
        # history query is newer than the cursor and is read by the loop.
        for did in home.devices:
            self.cursor[did] = _dt(replay_from)
        for e in history:
            did = self.device_uid[e.device]
            # (a heartbeat is the server's time of the last message, not a reading's)
            if e.ts > self.cursor[did].timestamp() and e.kind != "heartbeat":
                self.cursor[did] = _dt(e.ts)
        if not home.devices:
            return []
        # Replay as the service would have lived it: re-learning at each day's
        # turn, so the baselines are the ones it would have had.
        times = [e.ts for e in history]
        span = self.learn_days * 86400

        def learn(at: float) -> None:
            lo, hi = bisect.bisect_left(times, at - span), bisect.bisect_left(times, at)
            home.monitor.learn(history[lo:hi], at)
            home.learned(at, self.relearn_s)

        learn(replay_from)
        self._apply_away(hid)
        findings = []
        boundary = _next_noon(replay_from, home.tz)
        for e in history[bisect.bisect_left(times, replay_from):]:
            while e.ts >= boundary:
                findings.extend(home.monitor.advance(boundary))
                learn(boundary)
                boundary = _next_noon(boundary, home.tz)
            findings.extend(home.monitor.observe(e))
        while boundary <= now:
            findings.extend(home.monitor.advance(boundary))
            learn(boundary)
            boundary = _next_noon(boundary, home.tz)
        findings.extend(home.monitor.advance(now))
        self.deadlines.set(hid, home.monitor.next_deadline())
        return findings

    async def _load_away(self, db: psycopg.AsyncConnection) -> list[int]:
        """Read current away periods; returns the homes whose periods changed."""
        away: dict[int, list[tuple[float, float | None, str]]] = {}
        for hid, starts, ends, reason in await (await db.execute(sql.LOAD_AWAY)).fetchall():
            away.setdefault(hid, []).append((_ts(starts), _ts(ends) if ends else None, reason))
        changed = [h for h in set(away) | set(self.away) if away.get(h) != self.away.get(h)]
        self.away = away
        return changed

    def _apply_away(self, hid: int) -> None:
        home = self.homes.get(hid)
        if home is None:
            return
        for start, end, reason in self.away.get(hid, ()):
            home.monitor.set_away(start, end, reason)
        self.deadlines.set(hid, home.monitor.next_deadline())

    # -- writing alerts ----------------------------------------------------
    async def _write(self, db: psycopg.AsyncConnection, hid: int,
                     findings: Iterable[Finding]) -> None:
        await self._write_all(db, [(hid, f) for f in findings])

    async def _write_all(self, db: psycopg.AsyncConnection,
                         findings: list[tuple[int, Finding]]) -> None:
        """Findings in order: opens are written in batches, a clear after the opens before it."""
        opens: list[tuple[int, Finding]] = []
        for hid, f in findings:
            self.stats.findings += 1
            if f.state == "open":
                if f.kind in MOMENTARY:
                    await self._open_alerts(db, opens)
                    opens = []
                    # pressed again after someone acknowledged the earlier press: that alert
                    # is resolved as followed by this one, which opens and is told anew
                    await store.supersede(db, hid, f.kind, _dt(f.at),
                                          "pressed again: a new alert follows")
                opens.append((hid, f))
                continue
            await self._open_alerts(db, opens)
            opens = []
            reason = f.text.get("en") or str(f.evidence.get("reason", "condition cleared"))
            cleared = await store.clear(db, hid, f.kind, _dt(f.at), reason)
            self.stats.alerts_cleared += len(cleared)
        await self._open_alerts(db, opens)

    async def _open_alerts(self, db: psycopg.AsyncConnection,
                           opens: list[tuple[int, Finding]]) -> None:
        ids = await store.open_many(db, [store.NewAlert(
            home_id=hid, kind=f.kind, severity=f.severity, condition_at=_dt(f.at),
            since=_dt(f.since) if f.since else None, evidence=f.evidence,
            summary_zh=f.text.get("zh-CN", f.kind), summary_en=f.text.get("en", f.kind),
            note=f.text.get("en"), device_id=self.device_uid.get(f.device or ""))
            for hid, f in opens])
        self.stats.alerts_opened += sum(1 for i in ids if i is not None)

    async def _write_incidents(self, db: psycopg.AsyncConnection, now: float) -> None:
        changed, closed = self.bursts.to_write()
        code = {h.id: h.code for h in self.homes.values()}
        for inc in changed:
            homes = sorted({code.get(k[0], str(k[0])) for k in inc.members})
            await db.execute(sql.UPSERT_INCIDENT, (
                inc.community_id, _dt(inc.opened_at), inc.homes, len(inc.members),
                Jsonb({"homes": homes[:200], "kinds": sorted({k[1] for k in inc.members})})))
            log.warning("community %s: %d homes lost devices at once; one incident, no alert"
                        " each", inc.community_id, inc.homes)
        for inc in closed:
            await db.execute(sql.CLOSE_INCIDENT, (_dt(now), inc.community_id))

    # -- the loop ----------------------------------------------------------
    async def _read_new(self, db: psycopg.AsyncConnection) -> dict[int, list[Finding]]:
        ids = [d for d in self.pending if d in self.device_home]
        self.pending.clear()
        if not ids:
            return {}
        rows = await (await db.execute(sql.NEW_READINGS, (
            ids, [self.cursor.get(d, _EPOCH) for d in ids],
            [self.mark.get(d, _EPOCH) - _COMMIT_MARGIN for d in ids], self.late_window))
        ).fetchall()
        seen = await (await db.execute(sql.DEVICES_SEEN, (ids,))).fetchall()
        events: dict[int, list[Event]] = {}
        for ts, did, kind, value, seq, received in rows:
            hid = self.device_home[did]
            dev = self.homes[hid].devices.get(did)
            if dev is None:
                continue
            if received is not None:
                keys = self.read_keys.setdefault(did, {})
                if (ts, kind, seq) in keys:
                    continue        # read before: returned again within the commit margin
                keys[(ts, kind, seq)] = received
                if received > self.mark.get(did, _EPOCH):
                    self.mark[did] = received
            if ts > self.cursor.get(did, _EPOCH):
                self.cursor[did] = ts
            events.setdefault(hid, []).append(
                Event(_ts(ts), dev.uid, _KIND_LABEL[kind], value, dev.room,
                      None if received is None else _ts(received)))
        for did in ids:
            keys = self.read_keys.get(did)
            if keys:
                old = self.mark[did] - _COMMIT_MARGIN
                for k in [k for k, r in keys.items() if r < old]:
                    del keys[k]
        for did, last_seen, battery in seen:
            if last_seen is None or last_seen <= self.seen.get(did, _dt(0)):
                continue
            self.seen[did] = last_seen
            hid = self.device_home[did]
            dev = self.homes[hid].devices.get(did)
            if dev is not None:
                events.setdefault(hid, []).append(_heartbeat(dev, last_seen, battery))
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
            self.deadlines.set(hid, home.monitor.next_deadline())
        return out

    def _due(self, now: float) -> dict[int, list[Finding]]:
        out: dict[int, list[Finding]] = {}
        for deadline, hid in self.deadlines.pop_due(now):
            home = self.homes.get(hid)  # type: ignore[call-overload]
            if home is None:
                continue
            if self.record_lags:
                self.stats.deadline_lags.append(now - deadline)
            found = home.monitor.advance(now)
            if found:
                out[hid] = found  # type: ignore[index]
            self.deadlines.set(hid, home.monitor.next_deadline())
        return out

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
        """
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
        mark = pipeline.watermark(await pipeline.read(db), _dt(now))
        was = self.holds.holding
        self.holds.pipeline(pipeline.interrupted(mark, _dt(now)), now)
        if self.holds.holding and not was:
            log.warning("data pipeline interrupted (complete to %s): absence findings held",
                        mark)

    async def _serve(self, stop: asyncio.Event, listener: asyncio.Task[None],
                     listening: asyncio.Event) -> None:
        async with await psycopg.AsyncConnection.connect(self.database_url) as db:
            # Listen first, then rebuild: a reading committed in between is
            # both in the history and notified, and the cursor skips it once.
            await asyncio.wait({listener, asyncio.ensure_future(listening.wait())},
                               return_when=asyncio.FIRST_COMPLETED)
            if listener.done():
                listener.result()
            if self._changed is None:
                now = self.clock()
                changed = await self._load_registry(db)
                await self._load_away(db)
                await self._rebuild_all(db, changed, now)
                self._changed = await (await db.execute(sql.CHANGED)).fetchone()
                await db.commit()
                log.info("watching %d homes", len(self.homes))
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
                self.wake.clear()
                if not self.pending:
                    try:
                        await asyncio.wait_for(self.wake.wait(), timeout)
                    except asyncio.TimeoutError:
                        pass
                if listener.done():
                    listener.result()  # the LISTEN connection died: reconnect (run())
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
                community_of = {h.id: h.community_id for h in self.homes.values()}
                todo = self.bursts.filter(todo + released, community_of, now)
                todo += self.bursts.due(now)
                await self._write_all(db, todo)
                await self._write_incidents(db, now)
                await db.commit()
                self.stats.turns += 1
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
            histories = await self._histories(db, stale, now - self.learn_days * 86400, now)
            for hid in stale:
                home = self.homes[hid]
                home.monitor.learn(histories[hid], now)
                home.learned(now, self.relearn_s)
                self.deadlines.set(hid, home.monitor.next_deadline())
        await db.commit()
