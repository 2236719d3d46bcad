"""Every service outlives its dependencies: PostgreSQL stopped for a minute, and the broker
restarted, while `anju ingest`, `detect`, `route`, `console` and `watchdog` run as processes.

A stack of its own (it stops its servers), a home whose button is pressed after
each outage: the reading is stored, the alert opened and delivered to a real
HTTP receiver through apprise, the console answers without a 500, and every
service is still the process it was.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from alerts import store
from alerts.manage import ContactSpec, add_contact
from anju import registry
from anju.embedded import Stack
from anju.host import free_port
from devtools.sinks import HttpSink
from tests.conftest import fresh_stack
from tests.support import as_device, now_ms, reading, through_store, wait_until

# One minute, as a real restart or failover takes; shorter only to develop the test.
OUTAGE_S = float(os.environ.get("ANJU_TEST_OUTAGE_S", "60"))


@pytest.fixture(scope="module")
def own_stack() -> Iterator[Stack]:
    """Servers of its own: this test stops them."""
    yield from fresh_stack("anju-outage-")


class Services:
    """The five services as processes, each with its log."""

    def __init__(self, stack: Stack, log_dir: Path) -> None:
        self.stack, self.log_dir = stack, log_dir
        self.console_port = free_port()
        self.env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir),
                        ANJU_INGEST_SHARE_GROUP="outage", ANJU_WATCHDOG_URLS="")
        for k in ("ANJU_DATABASE_URL", "ANJU_MQTT_URL", "ANJU_CONFIG"):
            self.env.pop(k, None)
        self.commands = {
            "ingest": ["ingest", "--worker", "o1"],
            "detect": ["detect"],
            "route": ["route", "--worker", "o1", "--poll", "0.5", "--no-watchdog"],
            "console": ["console", "--port", str(self.console_port)],
            "watchdog": ["watchdog", "--interval", "2"],
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        for name, args in self.commands.items():
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "anju.cli", *args], env=self.env,
                stdout=subprocess.DEVNULL, stderr=(self.log_dir / f"{name}.log").open("ab"))

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def dead(self) -> dict[str, str]:
        return {n: f"exited {p.returncode}: {self.log(n)[-1500:]}"
                for n, p in self.procs.items() if p.poll() is not None}

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()

    def console(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.console_port}{path}",
                                        timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return 0  # not listening (yet)


async def press_button(stack: Stack, dev: registry.NewDevice, seq: int, conn: psycopg.Connection,
                       sink: HttpSink, path: str, delivered_before: int) -> None:
    """Press the button; the reading is stored, an alert opened and delivered."""
    c = await as_device(stack, dev)
    c.publish(f"anju/v1/devices/{dev.uid}/button", reading(seq, 1, now_ms()), qos=1)
    await c.wait_inflight_below(0)
    await c.disconnect()
    await wait_until(lambda: conn.execute(
        "SELECT count(*) FROM readings WHERE device_id = %s AND seq = %s",
        (dev.id, seq)).fetchone()[0] == 1, 30)
    await wait_until(lambda: conn.execute(
        "SELECT count(*) FROM alerts a JOIN devices d ON d.home_id = a.home_id"
        " WHERE d.id = %s AND a.kind = 'button' AND a.state = 'open'",
        (dev.id,)).fetchone()[0] >= 1, 30)
    # the alert itself, not the follow-up telling the family the previous one was handled
    sink.wait_for(path, delivered_before + 1, timeout=30,
                  match=lambda r: "紧急" in str(r.body.get("title", "")))
    # handled: the next press is a new alert (one unresolved alert per home and kind)
    for (aid,) in conn.execute(
            "SELECT a.id FROM alerts a JOIN devices d ON d.home_id = a.home_id"
            " WHERE d.id = %s AND a.state <> 'resolved'", (dev.id,)).fetchall():
        through_store(conn, lambda a, aid=aid: store.resolve(a, aid, actor="社工",
                                                             outcome="false_alarm"))


async def test_services_outlive_a_database_outage_and_a_broker_restart(own_stack, tmp_path):
    stack = own_stack
    sink = HttpSink().start()
    services = Services(stack, tmp_path)
    with psycopg.connect(stack.database_url(), autocommit=True) as conn:
        registry.add_home(conn, code="out-1", community="outage", resident="测试")
        dev = registry.add_device(conn, home="out-1", kind="button", room="bedroom")
        add_contact(conn, ContactSpec(role="family", name="家属", urls=[sink.url("/family")],
                                      home="out-1"))
        stack.write_broker_files(registry.broker_user_hashes(conn))
        stack.reload_broker()
        try:
            services.start()
            await wait_until(lambda: "subscribed to" in services.log("ingest"), 30)
            await wait_until(lambda: services.console("/healthz") == 200, 30)
            await wait_until(lambda: "watching" in services.log("detect"), 30)
            await press_button(stack, dev, 1, conn, sink, "/family", 0)

            stack.stop_postgres("fast")
            deadline = time.monotonic() + OUTAGE_S
            while time.monotonic() < deadline:
                assert not services.dead(), services.dead()
                time.sleep(1)
            assert services.console("/healthz") == 503, "the console says the database is down"
            stack.start_postgres()
            back = time.monotonic()
            assert not services.dead(), services.dead()
            # The first requests after the database is back are answered, not 500s.
            statuses = [services.console("/login") for _ in range(5)]
            await wait_until(lambda: services.console("/healthz") == 200, 30)
            assert 500 not in statuses, statuses
            conn = psycopg.connect(stack.database_url(), autocommit=True)  # the test's own died
            await press_button(stack, dev, 2, conn, sink, "/family", 1)
            print(f"\ndatabase back: a button pressed then was delivered "
                  f"{time.monotonic() - back:.1f} s after the restart")

            stack.stop_mosquitto()
            time.sleep(3)
            stack.start_mosquitto()
            back = time.monotonic()
            await wait_until(lambda: services.log("ingest").count("subscribed to") >= 2, 60)
            assert not services.dead(), services.dead()
            await press_button(stack, dev, 3, conn, sink, "/family", 2)
            print(f"broker back: a button pressed then was delivered "
                  f"{time.monotonic() - back:.1f} s after the restart")
            for name in services.commands:
                lines = [ln for ln in services.log(name).splitlines()
                         if "unavailable" in ln or "reconnect" in ln.lower() or "lost" in ln]
                print(f"{name}: {len(lines)} outage log line(s); "
                      f"{lines[0][:150] if lines else '-'}")

            # Every service beats again after the outages.
            await wait_until(lambda: {r[0] for r in conn.execute(
                "SELECT service FROM service_heartbeats WHERE beat_at > now() - interval '20 s'"
            ).fetchall()} >= {"ingest", "detectors", "router"}, 40)
        finally:
            services.stop()
            sink.stop()
