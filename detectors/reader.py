"""Reading the readings: a home's history for a rebuild, and new readings as they come.

New readings arrive by LISTEN anju_readings (the ingest notifies the device ids
of each committed batch); they are read from the readings table after each
device's cursor (the newest device time read), and a device's late ones
(behind its cursor by up to `late_window_s`) by when they were stored.
Heartbeats are not readings: a device's last message (devices.last_seen) is
read as a heartbeat event.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta, timezone

import psycopg

from anju.contract import Kind
from detectors import sql
from detectors.events import DeviceInfo, Event
from detectors.homes import Home

UTC = timezone.utc
_KIND_LABEL = {int(k): k.label for k in Kind}
EPOCH = datetime.fromtimestamp(0, UTC)
# A reading is stamped with its write's transaction start and seen at its commit: rows
# stored this long before the newest one read may still be new to the reader.
COMMIT_MARGIN = timedelta(seconds=60)
Key = tuple[datetime, int, int]      # a reading's (ts, kind, seq) for one device


def _ts(dt: datetime) -> float:
    return dt.timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def heartbeat(dev: DeviceInfo, last_seen: datetime, battery: float | None) -> Event:
    """A device's last message as an event; its value is the battery level (NaN: none)."""
    return Event(_ts(last_seen), dev.uid, "heartbeat",
                 float("nan") if battery is None else float(battery), dev.room)


class Reader:
    """Where the service is in each device's readings. `homes` and `device_home` are the
    service's registry (shared, kept up to date by it)."""

    def __init__(self, homes: dict[int, Home], device_home: dict[int, int],
                 late_window_s: float) -> None:
        self.homes = homes
        self.device_home = device_home
        self.cursor: dict[int, datetime] = {}     # device id -> newest reading ts read
        # A device's own late readings (a gateway flushing its buffer out of order) are read
        # by when they were stored: the newest storing time read (the mark), and the rows read
        # since the mark less the commit margin, which a read may return again.
        self.late_window = timedelta(seconds=late_window_s)
        self.mark: dict[int, datetime] = {}
        self.read_keys: dict[int, dict[Key, datetime]] = {}
        self.seen: dict[int, datetime] = {}       # device id -> last_seen read

    async def histories(self, db: psycopg.AsyncConnection, hids: list[int], start: float,
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

    async def start_rebuild(self, db: psycopg.AsyncConnection, hids: list[int]) -> datetime:
        """The homes' devices are read afresh from the database's now (returned)."""
        (db_now,) = await (await db.execute(sql.DB_NOW)).fetchone()  # type: ignore[misc]
        for hid in hids:
            for did in self.homes[hid].devices:
                self.mark[did] = db_now
                self.read_keys.pop(did, None)
        return db_now

    async def last_heard(self, db: psycopg.AsyncConnection, hids: list[int],
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
            bisect.insort(histories[hid], heartbeat(dev, last_seen, battery), key=lambda e: e.ts)

    def read_on_from(self, home: Home, history: list[Event], replay_from: float,
                     device_id: dict[str, int]) -> None:
        """Cursors after a rebuild: read on from what the history holds. A reading committed
        after the history query is newer than the cursor and is read by the loop."""
        for did in home.devices:
            self.cursor[did] = _dt(replay_from)
        for e in history:
            did = device_id[e.device]
            # (a heartbeat is the server's time of the last message, not a reading's)
            if e.ts > self.cursor[did].timestamp() and e.kind != "heartbeat":
                self.cursor[did] = _dt(e.ts)

    async def read_new(self, db: psycopg.AsyncConnection, ids: list[int]
                       ) -> dict[int, list[Event]]:
        """New readings and last messages of the devices `ids`, by home, in the order read."""
        rows = await (await db.execute(sql.NEW_READINGS, (
            ids, [self.cursor.get(d, EPOCH) for d in ids],
            [self.mark.get(d, EPOCH) - COMMIT_MARGIN for d in ids], self.late_window))
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
                if received > self.mark.get(did, EPOCH):
                    self.mark[did] = received
            if ts > self.cursor.get(did, EPOCH):
                self.cursor[did] = ts
            events.setdefault(hid, []).append(
                Event(_ts(ts), dev.uid, _KIND_LABEL[kind], value, dev.room,
                      None if received is None else _ts(received)))
        for did in ids:
            keys = self.read_keys.get(did)
            if keys:
                old = self.mark[did] - COMMIT_MARGIN
                for k in [k for k, r in keys.items() if r < old]:
                    del keys[k]
        for did, last_seen, battery in seen:
            if last_seen is None or last_seen <= self.seen.get(did, _dt(0)):
                continue
            self.seen[did] = last_seen
            hid = self.device_home[did]
            dev = self.homes[hid].devices.get(did)
            if dev is not None:
                events.setdefault(hid, []).append(heartbeat(dev, last_seen, battery))
        return events
