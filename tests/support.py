"""Helpers for tests that publish as devices and watch what the ingest stores."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, Awaitable, Callable

import psycopg
from psycopg.conninfo import make_conninfo

from alerts import store
from anju import i18n, mqtt_async
from anju.embedded import Stack
from anju.endpoints import Endpoints
from anju.registry import NewDevice
from anju.settings import IngestSettings
from ingest.metrics import IngestMetrics
from ingest.service import IngestWorker


async def as_device(stack: Stack, dev: NewDevice, **kw: object) -> mqtt_async.Client:
    port = stack.credentials().mqtt_port
    return await mqtt_async.connect("127.0.0.1", port, client_id=dev.uid, username=dev.uid,
                                    password=dev.password, **kw)


async def as_admin(stack: Stack, **kw: object) -> mqtt_async.Client:
    c = stack.credentials()
    return await mqtt_async.connect("127.0.0.1", c.mqtt_port,
                                    client_id=f"admin-{secrets.token_hex(3)}",
                                    username="anju-admin", password=c.mqtt_users["anju-admin"],
                                    **kw)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def reading(seq: int, value: float = 1, ts: int | None = None) -> bytes:
    return b'{"ts":%d,"seq":%d,"value":%r}' % (ts if ts is not None else now_ms(), seq, value)


async def publish_series(conn: mqtt_async.Client, uid: str, n: int, *, seq0: int = 0,
                         kind: str = "motion", window: int = 500, pace: float = 0) -> None:
    """Publish n readings at QoS 1 and wait until the broker has acknowledged them all."""
    topic = f"anju/v1/devices/{uid}/{kind}".encode()
    for i in range(n):
        await conn.wait_inflight_below(window)
        conn.publish(topic, reading(seq0 + i, (seq0 + i) & 1), qos=1)
        if pace:
            await asyncio.sleep(pace)
    await conn.wait_inflight_below(0)


def stored(db: psycopg.Connection, device_ids: list[int]) -> tuple[int, int]:
    """(rows, distinct (device, seq)) stored for these devices."""
    row = db.execute("SELECT count(*), count(DISTINCT (device_id, seq)) FROM readings"
                     " WHERE device_id = ANY(%s)", (device_ids,)).fetchone()
    assert row
    return int(row[0]), int(row[1])


async def wait_until(check: Callable[[], bool] | Callable[[], Awaitable[bool]],
                     timeout: float = 30, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running_worker(endpoints: Endpoints, *, group: str | None = None, worker: str = "t",
                         **cfg: object) -> AsyncIterator[IngestWorker]:
    """An ingest worker in this event loop, on its own share group unless given one."""
    settings = IngestSettings(share_group=group or f"g-{secrets.token_hex(3)}",
                              client_id=f"ingest-{worker}-{secrets.token_hex(3)}",
                              **cfg)  # type: ignore[arg-type]
    w = IngestWorker(endpoints.database_url, endpoints.mqtt, settings, worker=worker,
                     metrics=IngestMetrics())
    stop = asyncio.Event()
    task = asyncio.create_task(w.run(stop))
    await asyncio.wait_for(w.ready.wait(), 15)
    try:
        yield w
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await forget_session(endpoints, settings.client_id)


async def forget_session(endpoints: Endpoints, client_id: str) -> None:
    """End a persistent session, so the broker stops queueing for a worker that is gone."""
    ep = endpoints.mqtt
    c = await mqtt_async.connect(ep.host, ep.port, client_id=client_id, username=ep.username,
                                 password=ep.password, clean_session=True, reconnect=False)
    await c.disconnect()


class IngestProcess:
    """`anju ingest` as a separate process, to be killed for real."""

    def __init__(self, stack: Stack, worker: str, log: Path, group: str,
                 env: dict[str, str] | None = None):
        self.stack, self.worker, self.log = stack, worker, log
        self.env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir),
                        ANJU_INGEST_SHARE_GROUP=group, **(env or {}))
        for k in ("ANJU_DATABASE_URL", "ANJU_MQTT_URL", "ANJU_CONFIG"):
            self.env.pop(k, None)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "anju.cli", "ingest", "--worker", self.worker],
            env=self.env, stdout=subprocess.DEVNULL, stderr=self.log.open("ab"))

    async def wait_subscribed(self, times: int = 1, timeout: float = 20) -> None:
        """Wait for the worker's `times`-th subscription (one per start)."""
        await wait_until(
            lambda: self.log.read_text(errors="replace").count("subscribed to") >= times, timeout)

    def kill(self) -> None:
        assert self.proc
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        assert self.proc
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


def through_store(conn: psycopg.Connection, write: Callable[[psycopg.AsyncConnection],
                                                       Awaitable[Any]]) -> Any:
    """Run `write(aconn)` (calls into alerts.store) in one transaction on an async connection
    to `conn`'s database, in a thread of its own: callers may be sync tests or inside a loop."""
    conninfo = make_conninfo(conn.info.dsn, password=conn.info.password)

    async def go() -> Any:
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as a:
            async with a.transaction():
                return await write(a)

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()


def _summary(lang: str, kind: str) -> str:
    if kind == "button":
        return "紧急按钮被按下" if lang == "zh-CN" else "Emergency button pressed"
    return i18n.label(lang, "kind", kind)


def open_alert(conn: psycopg.Connection, home: int | str, *, kind: str = "button",
               severity: str = "critical", at: datetime | None = None,
               device_id: int | None = None, evidence: dict[str, Any] | None = None) -> int:
    """Open an alert as the detectors do (alerts.store: the row, its 'open' event, NOTIFY);
    `home` is its id or code, `at` its opening and condition time (default now)."""
    if isinstance(home, str):
        row = conn.execute("SELECT id FROM homes WHERE code = %s", (home,)).fetchone()
        assert row, f"no home {home}"
        home = int(row[0])
    at = at or datetime.now(timezone.utc)
    alert = store.NewAlert(home_id=home, kind=kind, severity=severity, condition_at=at,
                           since=at - timedelta(minutes=1), opened_at=at, device_id=device_id,
                           evidence=evidence or {"presses": 1},
                           summary_zh=_summary("zh-CN", kind), summary_en=_summary("en", kind))
    [aid] = through_store(conn, lambda a: store.open_many(a, [alert]))
    assert aid is not None, f"an unresolved {kind} alert of home {home} exists already"
    return aid
