"""For the detector tests: a constructed home and its events (driven by the test's clock),
and the live detector service in the test's event loop, with what it wrote."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable
from datetime import datetime, timezone

from detectors.config import DetectorConfig, from_dict
from detectors.events import DeviceInfo, Event, HomeInfo
from detectors.monitor import HomeMonitor
from detectors.service import DetectorService
from tests.support import wait_until

UTC = timezone.utc

H, M, D = 3600, 60, 86400
T0 = 1_710_115_200.0          # 2024-03-11 00:00 UTC, a Monday

DEVICES = (DeviceInfo("bed", "motion", "bedroom"), DeviceInfo("liv", "motion", "living_room"),
           DeviceInfo("bath", "motion", "bathroom"), DeviceInfo("door", "door", "entrance"),
           DeviceInfo("water", "water", "kitchen"), DeviceInfo("power", "power", "other"),
           DeviceInfo("btn", "button", "bedroom"), DeviceInfo("smoke", "smoke", "kitchen"))
HOME = HomeInfo("t-1", "UTC", DEVICES)


def mon(**settings: object) -> HomeMonitor:
    return HomeMonitor(HOME, from_dict(dict(settings)) if settings else DetectorConfig())


def mv(t: float, dev: str = "liv", room: str = "living_room") -> Event:
    return Event(t, dev, "motion", 1, room)


def opened(fs, kind):
    return [f for f in fs if f.kind == kind and f.state == "open"]


def routine(days: int, start: float = T0) -> list[Event]:
    """A regular resident: up 07:00, moving every 10 min until 22:00, asleep until 07:00."""
    out = []
    for d in range(days):
        day = start + d * D
        for t in range(int(day + 7 * H), int(day + 22 * H), 10 * M):
            out.append(mv(float(t), "liv" if (t // 600) % 3 else "bath",
                          "living_room" if (t // 600) % 3 else "bathroom"))
        out.append(mv(day + 22 * H, "bed", "bedroom"))
    return out


def run(m: HomeMonitor, events, until: float):
    fs = []
    for e in events:
        fs += m.observe(e)
    return fs + m.advance(until)


def insert_reading(conn, device_id: int, kind: int, ts: float, value: float, seq: int = 0) -> None:
    conn.execute("INSERT INTO readings (ts, seq, value, device_id, kind) VALUES (%s,%s,%s,%s,%s)",
                 (datetime.fromtimestamp(ts, UTC), seq, value, device_id, kind))


def alerts_of(conn, home: str) -> list[tuple]:
    return conn.execute(
        "SELECT a.kind, a.state, a.condition_at, a.evidence, a.summary_zh, a.summary_en,"
        " a.clear_reason FROM alerts a JOIN homes h ON h.id = a.home_id WHERE h.code = %s"
        " ORDER BY a.id", (home,)).fetchall()


class Service:
    """A detector service in this event loop, on a clock the test moves."""

    def __init__(self, db_url: str, now: float | None = None,
                 clock: Callable[[], float] | None = None, **service: Any) -> None:
        """The clock: `clock`, or `now` moved by the test, or the wall clock; `service`:
        more of DetectorService's settings (partitions=, lease_s=)."""
        self.now = now
        if clock is None:
            clock = time.time if now is None else (lambda: self.now)
        self.svc = DetectorService(db_url, clock=clock, refresh_s=0.5, **service)
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self.svc.run(self.stop))

    async def started(self) -> None:
        await wait_until(lambda: self.svc._changed is not None or self.task.done(), 30)
        if self.task.done():
            self.task.result()

    def kill(self) -> None:
        """Gone at once, as with kill -9: nothing is flushed or cleaned up."""
        self.task.cancel()

    async def close(self) -> None:
        self.stop.set()
        self.svc.wake.set()
        await asyncio.wait_for(self.task, 15)
