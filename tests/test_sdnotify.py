"""systemd notifications (anju.sdnotify): a real datagram socket stands in for systemd's
$NOTIFY_SOCKET and hears READY=1 and WATCHDOG=1 from the real services; a service whose
work is stuck stops pinging while its event loop still runs."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from alerts.router import Router, RouterConfig
from anju import sdnotify
from anju.embedded import Stack
from anju.endpoints import Endpoints
from detectors.service import DetectorService
from tests.router_support import SECRET
from tests.support import as_device, reading, running_worker, wait_until

WATCHDOG_USEC = 400_000          # pings at most every 0.1 s


class FakeSystemd:
    """A bound AF_UNIX datagram socket, as systemd's notification socket."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.setblocking(False)
        self.received: list[tuple[float, str]] = []

    def drain(self) -> list[str]:
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                break
            self.received.append((time.monotonic(), data.decode()))
        return [m for _, m in self.received]

    def mark(self) -> float:
        """Now, once everything already sent has been read (a message is timed as read)."""
        self.drain()
        return time.monotonic()

    def count(self, line: str, since: float = 0.0) -> int:
        self.drain()
        return sum(1 for at, m in self.received if at >= since and line in m.splitlines())

    async def wait_for(self, line: str, since: float = 0.0, timeout: float = 30) -> None:
        await wait_until(lambda: self.count(line, since) > 0, timeout, interval=0.02)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def systemd(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSystemd]:
    """NOTIFY_SOCKET and WATCHDOG_USEC set for this process, as systemd sets them."""
    base = tempfile.mkdtemp(prefix="sdn-", dir="/tmp")   # AF_UNIX paths are short
    fake = FakeSystemd(os.path.join(base, "notify"))
    monkeypatch.setenv("NOTIFY_SOCKET", fake.address)
    monkeypatch.setenv("WATCHDOG_USEC", str(WATCHDOG_USEC))
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    yield fake
    fake.close()
    shutil.rmtree(base, ignore_errors=True)


def test_outside_systemd_nothing_is_sent() -> None:
    """Without NOTIFY_SOCKET every call is a no-op that says so."""
    n = sdnotify.Notifier.from_env({})
    assert not n.enabled
    assert n.ready() is False and n.watchdog() is False


def test_abstract_socket_rate_limit_and_watchdog_pid() -> None:
    """An "@" address is an abstract socket; pings are rate-limited to a quarter of
    WatchdogSec; a process that is not WATCHDOG_PID does not ping for it."""
    fake = FakeSystemd(f"@anju-test-{secrets.token_hex(4)}")
    try:
        n = sdnotify.Notifier.from_env({"NOTIFY_SOCKET": fake.address,
                                        "WATCHDOG_USEC": "400000"})
        assert n.watchdog_s == 0.4 and n.ping_every_s == 0.1
        assert n.ready("up") and n.watchdog()
        assert not n.watchdog()          # again at once: held back
        time.sleep(0.12)
        assert n.watchdog()
        assert fake.drain() == ["READY=1\nSTATUS=up", "WATCHDOG=1", "WATCHDOG=1"]
        child = sdnotify.Notifier.from_env({"NOTIFY_SOCKET": fake.address,
                                            "WATCHDOG_USEC": "400000",
                                            "WATCHDOG_PID": str(os.getpid() + 1)})
        assert child.watchdog_s is None
        n.close()
        child.close()
    finally:
        fake.close()


async def test_ingest_stops_pinging_while_its_write_hangs(
        systemd: FakeSystemd, endpoints: Endpoints, stack: Stack, db_url: str,
        home_factory) -> None:  # type: ignore[no-untyped-def]
    """READY=1 once subscribed, WATCHDOG=1 while batches commit; with the readings table
    locked the batch's write hangs: the pings stop although the event loop still runs
    (messages keep arriving), and resume once the write goes through."""
    _, devs = home_factory([("motion", "bedroom")])
    dev = devs["motion-bedroom"]
    async with running_worker(endpoints, maintenance_s=0) as w:
        await systemd.wait_for("READY=1")
        await systemd.wait_for("WATCHDOG=1")
        pub = await as_device(stack, dev)
        topic = f"anju/v1/devices/{dev.uid}/motion".encode()
        with psycopg.connect(db_url) as locker:
            locker.execute("LOCK TABLE readings IN ACCESS EXCLUSIVE MODE")
            pub.publish(topic, reading(1), qos=1)
            await wait_until(lambda: w.in_flight > 0, 10)     # the write has begun
            await asyncio.sleep(0.3)
            stuck_since = systemd.mark()
            pub.publish(topic, reading(2), qos=1)
            await asyncio.sleep(1.2)                          # 12 ping periods
            # the loop itself is free: the second message was received into the next batch
            assert w.batch.messages == 1 and w.in_flight == 1
            assert systemd.count("WATCHDOG=1", since=stuck_since) == 0
            assert w.committed_messages == 0
            locker.rollback()                                 # the write goes through
        resumed = systemd.mark()
        await systemd.wait_for("WATCHDOG=1", since=resumed, timeout=10)
        await wait_until(lambda: w.committed_messages >= 2, 10)
        await pub.disconnect()


async def test_detector_ready_then_pings(systemd: FakeSystemd, db_url: str) -> None:
    """The detector service says READY=1 once its homes are rebuilt, then pings from its
    serving loop."""
    svc = DetectorService(db_url, refresh_s=0.2, instance=f"sdn-{secrets.token_hex(3)}")
    stop = asyncio.Event()
    task = asyncio.create_task(svc.run(stop))
    try:
        await systemd.wait_for("READY=1")
        ready_at = systemd.mark()
        turns = svc.stats.turns
        await systemd.wait_for("WATCHDOG=1", since=ready_at)
        await wait_until(lambda: systemd.count("WATCHDOG=1", since=ready_at) >= 3, 10)
        assert svc.stats.turns > turns
    finally:
        stop.set()
        svc.wake.set()
        await asyncio.wait_for(task, 15)


async def test_router_ready_then_pings(systemd: FakeSystemd, db_url: str) -> None:
    """The router says READY=1 when it runs, then pings from its main loop."""
    router = Router(db_url, RouterConfig(secret=SECRET, link_base="http://127.0.0.1:9",
                                         communities=[-1], poll_s=0.1, concurrency=1,
                                         worker=f"sdn-{secrets.token_hex(3)}"))
    stop = asyncio.Event()
    task = asyncio.create_task(router.run(stop))
    try:
        await systemd.wait_for("READY=1")
        ready_at = systemd.mark()
        await wait_until(lambda: systemd.count("WATCHDOG=1", since=ready_at) >= 3, 10)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_console_process_ready_then_pings_while_it_answers(
        systemd: FakeSystemd, stack: Stack) -> None:
    """`anju console` as systemd runs it: READY=1 once it listens, then WATCHDOG=1 as it
    answers its own /healthz."""
    env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir))
    for k in ("ANJU_DATABASE_URL", "ANJU_MQTT_URL", "ANJU_CONFIG"):
        env.pop(k, None)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "anju.cli", "console", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await systemd.wait_for("READY=1", timeout=30)
        ready_at = systemd.mark()
        await wait_until(lambda: systemd.count("WATCHDOG=1", since=ready_at) >= 3, 10)
        assert [m for m in systemd.drain() if m.startswith("READY=1")] == [
            f"READY=1\nSTATUS=serving on 127.0.0.1:{port}"]
    finally:
        proc.terminate()      # (uvicorn re-raises SIGTERM after its clean stop)
        proc.wait(15)


def test_watchdog_process_ready_then_pings(systemd: FakeSystemd, stack: Stack) -> None:
    """`anju watchdog` says READY=1, then WATCHDOG=1 after each check."""
    env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir))
    for k in ("ANJU_DATABASE_URL", "ANJU_MQTT_URL", "ANJU_CONFIG"):
        env.pop(k, None)
    proc = subprocess.Popen([sys.executable, "-m", "anju.cli", "watchdog", "--interval", "0.1",
                             "--stale-s", "86400"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while systemd.count("WATCHDOG=1") < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert systemd.count("READY=1") == 1 and systemd.count("WATCHDOG=1") >= 3
    finally:
        proc.terminate()
        proc.wait(15)


UNITS = Path(__file__).resolve().parent.parent / "deploy" / "systemd"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_units_verify_without_a_warning(tmp_path: Path) -> None:
    """systemd-analyze verify finds nothing to say about the units (their ExecStart pointed
    at this checkout's anju, as /opt/anju does not exist here)."""
    anju = Path(sys.executable).parent / "anju"
    names = []
    for unit in sorted(UNITS.glob("anju*.*")):
        if unit.suffix not in (".service", ".timer", ".target"):
            continue
        text = unit.read_text().replace("/opt/anju/.venv/bin/anju", str(anju))
        name = unit.name.replace("@.", "@1.")
        (tmp_path / name).write_text(text)
        names.append(name)
    assert {"anju-ingest@1.service", "anju-detect@1.service", "anju-router@1.service",
            "anju-console@1.service", "anju-watchdog.service"} <= set(names)
    for name in names:
        text = (tmp_path / name).read_text()
        if name.endswith(".service") and "Type=notify" in text:
            assert "WatchdogSec=" in text and "Restart=always" in text, name
        if name.endswith(".service"):
            assert "EnvironmentFile=/etc/anju/anju.env" in text and "User=anju" in text, name
    out = subprocess.run(["systemd-analyze", "verify", "--man=no", *names], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, SYSTEMD_LOG_LEVEL="notice"))
    assert out.returncode == 0 and out.stdout + out.stderr == "", out.stdout + out.stderr
