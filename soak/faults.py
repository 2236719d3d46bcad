"""Doing the plan's faults to the running stack, and timing each service's recovery.

Recovery is measured from the end of a fault (the restart, the server back, the link back) to
the first sign that the service works again, seen from outside as its users would:

- ingest: a home's reading stored (received_at) after the end;
- detectors, router: the service's heartbeat row written after the end;
- console: /healthz answers 200.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone

import paho.mqtt.client as paho
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from anju.contract import device_topic
from anju.embedded import Stack
from anju.mqtt_async import Client, ConnectRefused
from soak.netcut import NetCut
from soak.plan import Fault
from soak.services import Services

# Which services a fault concerns, and so whose recovery is timed.
CONCERNS: dict[str, tuple[str, ...]] = {
    "kill_ingest": ("ingest",),
    "kill_detect": ("detectors",),
    "kill_route": ("router",),
    "broker_restart": ("ingest",),
    "postgres_stop": ("ingest", "detectors", "router", "console"),
    "network_cut": ("ingest",),
    "poison": ("ingest",),
    "hijack": ("ingest",),
}
RECOVERY_LIMIT_S = 300.0


@dataclass
class Done:
    fault: Fault
    at: float                       # wall time it began
    end: float | None = None        # wall time it ended (the restart, the link back)
    detail: str = ""
    detail_zh: str = ""
    recovery_s: dict[str, float | None] = field(default_factory=dict)


@dataclass
class Intruder:
    """A home of the soak's own whose device sends hostile traffic; another home is its target."""
    uid: str
    password: str
    victim_uid: str               # a device of another home (device mode)
    victim_password: str
    victim_password_wrong: str = "not-the-password"


def console_healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as r:
            return r.status == 200
    except OSError:
        return False


class FaultRunner:
    def __init__(self, stack: Stack, services: Services, netcut: NetCut, db_url: str,
                 console_port: int, intruder: Intruder) -> None:
        self.stack, self.services, self.netcut = stack, services, netcut
        self.db_url, self.console_port = db_url, console_port
        self.intruder = intruder
        self.done: list[Done] = []
        self.poison_sent = 0
        self.oversize_sent = 0      # over the broker's packet limit: the broker refuses them
        self.hijack_tries = 0
        self.hijack_refused = 0
        self.hijack_publishes = 0   # on another's topic: dropped if nothing was stored
        self.hijack_notes = ""
        self._watchers: set[asyncio.Task] = set()

    @property
    def busy(self) -> bool:
        return bool(self._watchers)

    async def do(self, f: Fault) -> Done:
        d = Done(f, time.time())
        self.done.append(d)
        kind = f.kind
        if kind in ("kill_ingest", "kill_detect", "kill_route"):
            name = {"kill_ingest": "ingest", "kill_detect": "detectors", "kill_route": "router"}[kind]
            d.end = await asyncio.to_thread(self.services.kill, name)
            d.detail = f"{name}: SIGKILL, restarted {d.end - d.at:.1f} s later"
            d.detail_zh = f"{name} 进程被强制终止（kill -9），{d.end - d.at:.1f} 秒后重启"
        elif kind == "broker_restart":
            await asyncio.to_thread(self.stack.stop_mosquitto)
            await asyncio.sleep(f.duration_s)
            await asyncio.to_thread(self.stack.start_mosquitto)
            d.end = time.time()
            d.detail = f"mosquitto stopped {d.end - d.at:.0f} s (persistence kept)"
            d.detail_zh = f"MQTT 代理停止 {d.end - d.at:.0f} 秒后重启（保留持久化数据）"
        elif kind == "postgres_stop":
            await asyncio.to_thread(self.stack.stop_postgres, "fast")
            await asyncio.sleep(max(0.0, f.duration_s - (time.time() - d.at)))
            await asyncio.to_thread(self.stack.start_postgres)
            d.end = time.time()
            d.detail = f"PostgreSQL down {d.end - d.at:.0f} s"
            d.detail_zh = f"数据库停止 {d.end - d.at:.0f} 秒"
        elif kind == "network_cut":
            self.netcut.cut()
            await asyncio.sleep(f.duration_s)
            self.netcut.restore()
            d.end = time.time()
            d.detail = f"homes cut off from the broker {d.end - d.at:.0f} s"
            d.detail_zh = f"住户与 MQTT 代理之间的网络中断 {d.end - d.at:.0f} 秒"
        elif kind == "poison":
            n = await self._poison()
            d.end = time.time()
            d.detail = (f"{n} hostile messages from one device, and one over the broker's "
                        "packet limit")
            d.detail_zh = f"一台设备发送 {n} 条恶意消息，另有一条超过代理的报文大小上限"
        elif kind == "hijack":
            refused, tries = await self._hijack()
            d.end = time.time()
            d.detail = f"{refused} of {tries - 1} refused: {self.hijack_notes}"
            d.detail_zh = (f"{tries - 1} 次冒用尝试中 {refused} 次被拒绝或无效；"
                           "另以自己的凭据向他人设备主题发布一条按钮消息")
        t = asyncio.get_running_loop().create_task(self._recovery(d))
        self._watchers.add(t)
        t.add_done_callback(self._watchers.discard)
        return d

    # -- recovery ---------------------------------------------------------------------------
    async def _recovery(self, d: Done) -> None:
        assert d.end is not None
        end = datetime.fromtimestamp(d.end, timezone.utc)
        todo = set(CONCERNS[d.fault.kind])
        while todo and time.time() - d.end < RECOVERY_LIMIT_S:
            try:
                async with await psycopg.AsyncConnection.connect(
                        self.db_url, autocommit=True, connect_timeout=5) as conn:
                    while todo and time.time() - d.end < RECOVERY_LIMIT_S:
                        for name in list(todo):
                            if await self._alive(conn, name, end):
                                d.recovery_s[name] = round(max(0.0, time.time() - d.end), 1)
                                todo.discard(name)
                        await asyncio.sleep(0.5)
            except psycopg.OperationalError:
                await asyncio.sleep(1)
        for name in todo:
            d.recovery_s[name] = None    # not within the limit: the report says so

    async def _alive(self, conn: psycopg.AsyncConnection, name: str, end: datetime) -> bool:
        if name == "ingest":
            # the recent chunks only: received_at is not indexed, ts is
            cur = await conn.execute(
                "SELECT 1 FROM readings WHERE ts > now() - interval '20 minutes'"
                " AND received_at > %s LIMIT 1", (end,))
            return await cur.fetchone() is not None
        if name in ("detectors", "router"):
            cur = await conn.execute(
                "SELECT 1 FROM service_heartbeats WHERE service = %s AND beat_at > %s LIMIT 1",
                (name, end))
            return await cur.fetchone() is not None
        return await asyncio.to_thread(console_healthy, self.console_port)

    # -- hostile devices --------------------------------------------------------------------
    async def _poison(self) -> int:
        """What a broken or hostile device sends, on its own topics with its own credentials."""
        host, port = self.stack.device_address()
        uid = self.intruder.uid
        c = Client(host, port, client_id=uid, username=uid, password=self.intruder.password)
        await c.start()
        now = int(time.time() * 1000)
        msgs = [
            (device_topic(uid, "motion"), b"\xff\xfe not utf-8 \x00"),
            (device_topic(uid, "motion"), b"{" * 5000),
            (device_topic(uid, "motion"), ("[" * 2000 + "]" * 2000).encode()),
            (device_topic(uid, "motion"), json.dumps({"ts": now, "seq": 1,
                                                      "value": "x" * 100_000}).encode()),
            (device_topic(uid, "motion"), b'{"ts":1e400,"seq":-1,"value":NaN}'),
            (device_topic(uid, "motion"), json.dumps({"ts": now, "seq": "\ud800",
                                                      "value": 1}).encode()),
            (device_topic(uid, "batch"), json.dumps({"readings": [{"kind": "motion"}] * 5000}).encode()),
            (device_topic(uid, "no-such-kind"), b'{"ts":1,"seq":1,"value":1}'),
            (device_topic(uid, "status"), b'{"status":' + b'"online",' * 10000 + b'}'),
        ]
        for _ in range(20):                       # a flood of the same
            msgs.append((device_topic(uid, "motion"), b"garbage " * 1000))
        for topic, payload in msgs:
            c.publish(topic, payload, qos=1)
        await c.wait_inflight_below(0, timeout=60)
        await c.close()
        # Over the broker's packet limit: the broker closes the connection (the device would
        # send it again and again; this one gives up after a few seconds).
        big = Client(host, port, client_id=uid, username=uid, password=self.intruder.password)
        await big.start()
        big.publish(device_topic(uid, "motion"), b"x" * 300_000, qos=1)
        await asyncio.sleep(3)
        await big.close()
        self.poison_sent += len(msgs)
        self.oversize_sent += 1
        return len(msgs)

    async def _hijack(self) -> tuple[int, int]:
        """Speak for another home's device while it is connected: its uid with a wrong
        password, its client id with the intruder's own credentials, a publish on its topic,
        and a subscription to everything. Each must be refused or come to nothing."""
        host, port = self.stack.device_address()
        me, victim = self.intruder.uid, self.intruder.victim_uid
        outcomes: list[tuple[str, bool]] = []
        real = Client(host, port, client_id=victim, username=victim,
                      password=self.intruder.victim_password)
        await real.start()
        try:
            c = Client(host, port, client_id=victim, username=victim,
                       password=self.intruder.victim_password_wrong, backoff=(60.0, 60.0))
            try:
                await c.start(timeout=5)
                outcomes.append(("wrong password: connected", False))
            except (ConnectRefused, asyncio.TimeoutError, OSError):
                outcomes.append(("wrong password: refused", True))
            finally:
                await c.close()
            # Its client id, our credentials: a broker that took the id would end the real
            # device's session (a takeover); the real device must stay connected.
            c = Client(host, port, client_id=victim, username=me, password=self.intruder.password,
                       backoff=(60.0, 60.0))
            try:
                await c.start(timeout=5)
            except (ConnectRefused, asyncio.TimeoutError, OSError):
                pass
            await asyncio.sleep(2)
            await c.close()
            kept = real.connects == 1 and real.connected
            outcomes.append((f"another's client id: {'no takeover' if kept else 'TAKEOVER'}", kept))
        finally:
            await real.close()
        # On its topic with valid credentials of our own: the broker drops it (MQTT 3.1.1 has
        # no refusal for a publish); whether anything was stored is counted from the database.
        c = Client(host, port, client_id=me, username=me, password=self.intruder.password)
        await c.start()
        c.publish(device_topic(victim, "button"),
                  json.dumps({"ts": int(time.time() * 1000), "seq": 424242, "value": 1}).encode())
        await c.wait_inflight_below(0, timeout=30)
        await c.close()
        self.hijack_publishes += 1
        got = await asyncio.to_thread(self._subscribe_all, host, port, me, self.intruder.password)
        outcomes.append((f"subscribe #: read {got}", got == 0))
        refused = sum(ok for _, ok in outcomes)
        self.hijack_tries += len(outcomes) + 1
        self.hijack_refused += refused
        self.hijack_notes = "; ".join(t for t, _ in outcomes) + "; publish on its topic"
        return refused, len(outcomes) + 1

    @staticmethod
    def _subscribe_all(host: str, port: int, user: str, password: str) -> int:
        """Subscribe to # for three seconds as a device; returns how many messages it read."""
        got = 0
        ev = threading.Event()

        def on_message(*_a: object) -> None:
            nonlocal got
            got += 1

        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=user, clean_session=True)
        c.username_pw_set(user, password)
        c.on_message = on_message
        c.on_connect = lambda *a: (c.subscribe("#", 0), ev.set())
        c.connect(host, port, 30)
        c.loop_start()
        try:
            ev.wait(5)
            time.sleep(3)
        finally:
            c.disconnect()
            c.loop_stop()
        return got
