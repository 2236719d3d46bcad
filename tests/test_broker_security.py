"""Devices cannot reach each other or the ingest's stream.

The attacker is always a real `mosquitto_sub` / `mosquitto_pub` process holding
a provisioned device's own credentials, on either of the broker's listeners
(the devices' one, and the services' one a device could also dial).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from anju import mqtt_async
from anju.embedded import Stack
from anju.endpoints import Endpoints
from anju.registry import NewDevice
from tests.support import as_device, publish_series, reading, running_worker, stored, wait_until

pytestmark = pytest.mark.skipif(not shutil.which("mosquitto_sub"),
                                reason="needs mosquitto-clients")

LISTENERS = ["devices", "services"]


def _port(stack: Stack, listener: str) -> int:
    c = stack.credentials()
    return c.mqtt_port if listener == "devices" else c.mqtt_service_port


@dataclass
class Attacker:
    """A mosquitto_sub process whose debug output (-d) is read back from a file."""

    proc: subprocess.Popen[bytes]
    out: Path

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def received(self) -> int:
        return self.text().count("received PUBLISH")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # a clean DISCONNECT: a persistent session stays
        self.proc.wait(10)


async def _subscribe_as(stack: Stack, dev: NewDevice, listener: str, topics: list[str],
                        out: Path, *, client_id: str | None = None,
                        persistent: bool = True) -> Attacker:
    args = ["stdbuf", "-oL", "mosquitto_sub", "-d", "-p", str(_port(stack, listener)),
            "-u", dev.uid, "-P", dev.password or "", "-i", client_id or dev.uid, "-q", "1",
            "-k", "60"]
    if persistent:
        args.append("-c")
    for t in topics:
        args += ["-t", t]
    a = Attacker(subprocess.Popen(args, stdout=out.open("wb"), stderr=subprocess.STDOUT), out)
    # Connected and answered (granted or refused), or refused at CONNECT.
    await wait_until(lambda: "received SUBACK" in a.text() or a.proc.poll() is not None, 10)
    return a


def _subscription_refused(a: Attacker) -> bool:
    t = a.text()
    return "All subscription requests were denied" in t or "): 128" in t


async def _forget(stack: Stack, dev: NewDevice) -> None:
    """End the attacker's persistent session, so nothing is queued for it after the test."""
    c = await as_device(stack, dev, clean_session=True)
    await c.disconnect()


async def _settled(db: psycopg.Connection, ids: list[int], want: int) -> int:
    """Distinct readings stored once they reach `want` or stop growing for 3 s."""
    last, since = -1, time.monotonic()
    while True:
        n = stored(db, ids)[1]
        if n >= want:
            return n
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since > 3:
            return n
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("listener", LISTENERS)
async def test_device_cannot_divert_the_ingest_share_group(
        stack: Stack, endpoints: Endpoints, conn: psycopg.Connection, home_factory,
        unique: str, tmp_path: Path, listener: str) -> None:
    """A device in the ingest's share group (persistent, QoS 1) costs no reading."""
    _, devs = home_factory([("motion", "bedroom"), ("door", "entrance")])
    victim, thief = devs["motion-bedroom"], devs["door-entrance"]
    group = f"anju-ingest-{unique}"
    async with running_worker(endpoints, group=group):
        attacker = await _subscribe_as(stack, thief, listener, [f"$share/{group}/anju/v1/#"],
                                       tmp_path / "thief.log")
        try:
            assert _subscription_refused(attacker), attacker.text()
            c = await as_device(stack, victim)
            await publish_series(c, victim.uid, 1000)
            during = await _settled(conn, [victim.id], 1000)
            attacker.stop()  # its session would stay in the group, for days
            await publish_series(c, victim.uid, 100, seq0=1000)
            after = await _settled(conn, [victim.id], 1100) - during
            await c.disconnect()
        finally:
            attacker.stop()
            await _forget(stack, thief)
    assert (1000 - during, 100 - after) == (0, 0), f"lost {1000 - during} of 1,000 while " \
        f"the device was in the group and {100 - after} of 100 after it left"
    assert attacker.received() == 0


@pytest.mark.parametrize("listener", LISTENERS)
async def test_device_subscribing_gets_nothing(
        stack: Stack, endpoints: Endpoints, conn: psycopg.Connection, home_factory,
        tmp_path: Path, listener: str) -> None:
    """Subscribing to the whole tree, or to another device's topic, is refused."""
    _, devs = home_factory([("motion", "bedroom"), ("door", "entrance")])
    victim, spy = devs["motion-bedroom"], devs["door-entrance"]
    attacker = await _subscribe_as(
        stack, spy, listener, ["anju/v1/#", f"anju/v1/devices/{victim.uid}/#", "#"],
        tmp_path / "spy.log")
    try:
        assert _subscription_refused(attacker), attacker.text()
        c = await as_device(stack, victim)
        await publish_series(c, victim.uid, 20)
        await c.disconnect()
        await asyncio.sleep(0.5)
    finally:
        attacker.stop()
        await _forget(stack, spy)
    assert attacker.received() == 0


@pytest.mark.parametrize("listener", LISTENERS)
async def test_device_cannot_take_another_device_client_id(
        stack: Stack, endpoints: Endpoints, conn: psycopg.Connection, home_factory,
        listener: str) -> None:
    """Device A using B's client id neither knocks B off nor fires B's last will."""
    _, devs = home_factory([("button", "bedroom"), ("door", "entrance")])
    victim, thief = devs["button-bedroom"], devs["door-entrance"]
    status = f"anju/v1/devices/{victim.uid}/status"
    async with running_worker(endpoints) as w:
        b = await as_device(stack, victim, keepalive=60,
                            will=mqtt_async.Will(status, b'{"status":"offline"}'))
        b.publish(status, b'{"status":"online"}', qos=1)
        await b.wait_inflight_below(0)
        await wait_until(lambda: conn.execute("SELECT online FROM devices WHERE id = %s",
                                              (victim.id,)).fetchone() == (True,))
        codes = []
        for i in range(3):  # they used to knock each other off in turn
            r = subprocess.run(
                ["mosquitto_pub", "-p", str(_port(stack, listener)), "-u", thief.uid,
                 "-P", thief.password or "", "-i", victim.uid, "-q", "1",
                 "-t", f"anju/v1/devices/{thief.uid}/door", "-m", reading(i).decode()],
                capture_output=True, text=True, timeout=10)
            codes.append(r.returncode)
        await asyncio.sleep(1)  # a will, had it fired, is stored well within this
        victim_connected = b.connected and b.connects == 1
        (online,) = conn.execute("SELECT online FROM devices WHERE id = %s",
                                 (victim.id,)).fetchone()
        stored_before = stored(conn, [victim.id])[1]
        if victim_connected:
            await publish_series(b, victim.uid, 10, kind="button")  # still stored
            await wait_until(lambda: w.committed_messages > 0
                             and stored(conn, [victim.id])[1] == stored_before + 10)
            await b.disconnect()
    assert victim_connected, "the victim was disconnected"
    assert online is True, "the victim's last will marked it offline"
    # On the devices' listener the thief is itself (its id replaced by its user
    # name); on the services' listener it is refused.
    assert codes == ([0, 0, 0] if listener == "devices" else [5, 5, 5]), codes


@pytest.mark.parametrize("listener", LISTENERS)
async def test_device_cannot_take_the_ingest_client_id(
        stack: Stack, endpoints: Endpoints, conn: psycopg.Connection, home_factory,
        tmp_path: Path, listener: str) -> None:
    """A device connecting (clean session) with the ingest's client id leaves it be."""
    _, devs = home_factory([("motion", "bedroom"), ("door", "entrance")])
    victim, thief = devs["motion-bedroom"], devs["door-entrance"]
    async with running_worker(endpoints) as w:
        ingest_conn = w.conn
        assert ingest_conn is not None
        client_id = w.cfg.client_id
        attacker = await _subscribe_as(stack, thief, listener, ["anju/v1/#"],
                                       tmp_path / "thief.log", client_id=client_id,
                                       persistent=False)
        attacker.stop()
        await asyncio.sleep(0.5)
        kept = w.conn is ingest_conn and not ingest_conn.closed.done()
        c = await as_device(stack, victim)
        await publish_series(c, victim.uid, 200)
        got = await _settled(conn, [victim.id], 200)
        await c.disconnect()
    assert kept, "the ingest was disconnected (its session taken over)"
    assert got == 200
