"""Ingest workers as competing consumers of the RabbitMQ cluster's capture queue: devices
publish over MQTT to different nodes, two `anju ingest --amqp` workers store into a real
PostgreSQL, one is SIGKILLed mid-way, and every acknowledged reading is stored exactly
once with the queue drained."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from anju import registry
from anju.cluster.rabbitmq import RabbitCluster
from ingest.amqp import safe_url, topic_of
from tests.cluster.broker_support import DeviceProbe
from tests.support import reading, stored, wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]

PER_DEVICE = 1000
N_DEVICES = 3


def test_topic_of_recovers_dotted_device_ids() -> None:
    assert topic_of("anju.v1.devices.h-1.motion.2.motion") == "anju/v1/devices/h-1.motion.2/motion"
    assert topic_of("anju.v1.devices.d1.status") == "anju/v1/devices/d1/status"
    assert topic_of("anju.v1.gateways.gw.door-1.door") == "anju/v1/gateways/gw/door-1/door"
    assert topic_of("anju.v1.gateways.gw.a.b.door",
                    lambda k: k == ("gw.a", "b")) == "anju/v1/gateways/gw.a/b/door"
    assert safe_url("amqp://u:secret@127.0.0.1:5672/") == "amqp://127.0.0.1:5672/"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    c = RabbitCluster(tmp_path_factory.mktemp("rabbitmq"), 3)
    try:
        c.up()
        yield c
    finally:
        c.down()


class QueueWorker:
    """`anju ingest --amqp` as a process of its own, to be killed for real."""

    def __init__(self, stack, name: str, urls: list[str], log: Path) -> None:  # type: ignore[no-untyped-def]
        self.name, self.urls, self.log = name, urls, log
        self.env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir))
        for k in ("ANJU_DATABASE_URL", "ANJU_MQTT_URL", "ANJU_CONFIG"):
            self.env.pop(k, None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "anju.cli", "ingest", "--worker", name,
             "--amqp", ",".join(urls)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=log.open("ab"))

    def subscribed(self) -> bool:
        return "subscribed to" in self.log.read_text(errors="replace")


async def test_two_workers_one_killed_store_every_reading_once(
        cluster: RabbitCluster, stack, conn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tag = secrets.token_hex(3)
    home = f"h-amqp-{tag}"
    registry.add_home(conn, code=home, community=f"c-{tag}", resident="测试")
    devs = [registry.add_device(conn, home=home, kind="motion", room=room,
                                uid=f"{home}.m{i}")   # a '.' in the id, as the registry allows
            for i, room in enumerate(("bedroom", "kitchen", "bathroom"))]
    pws = {d.uid: cluster.add_device(d.uid) for d in devs}
    ids = [d.id for d in devs]

    urls = cluster.amqp_urls()
    a = QueueWorker(stack, f"qa-{tag}", urls, tmp_path / "a.log")
    b = QueueWorker(stack, f"qb-{tag}", urls[1:] + urls[:1], tmp_path / "b.log")
    try:
        await wait_until(lambda: a.subscribed() and b.subscribed(), timeout=30)
        ports = [p for _, p in cluster.mqtt_addresses()]
        t0 = time.monotonic()
        probes = []
        for i, d in enumerate(devs):
            p = DeviceProbe(ports[i % 3], d.uid, pws[d.uid])
            assert p.connect() == 0
            probes.append(p)

        def publish(p: DeviceProbe, uid: str) -> None:
            for s in range(PER_DEVICE):
                while s - len([k for k in p.kinds() if k == "puback"]) > 200:
                    time.sleep(0.005)   # a window of 200 in flight, as a device keeps
                p.publish(f"anju/v1/devices/{uid}/motion", reading(s, s & 1))

        loop = asyncio.get_running_loop()
        pubs = [loop.run_in_executor(None, publish, p, d.uid) for p, d in zip(probes, devs)]
        await wait_until(lambda: stored(conn, ids)[0] >= 1000, timeout=60)
        a.proc.send_signal(signal.SIGKILL)        # mid-stream, deliveries in its hands
        a.proc.wait(10)
        killed_at = stored(conn, ids)[0]
        await asyncio.gather(*pubs)
        total = N_DEVICES * PER_DEVICE

        def acked() -> int:
            return sum(p.kinds().count("puback") for p in probes)

        await wait_until(lambda: acked() == total, timeout=60)
        await wait_until(lambda: stored(conn, ids)[0] >= total, timeout=60)
        elapsed = time.monotonic() - t0
        for p in probes:
            p.close()
        await asyncio.sleep(1.0)        # (a doubled row would have shown by now)
        assert killed_at < total
        assert stored(conn, ids) == (total, total)
        seqs = conn.execute("SELECT count(DISTINCT seq) FROM readings WHERE device_id = ANY(%s)",
                            (ids,)).fetchone()
        assert seqs and seqs[0] == PER_DEVICE
        await wait_until(lambda: cluster.queue_counts().get("messages") == 0, timeout=30)
        b.proc.send_signal(signal.SIGTERM)
        assert b.proc.wait(30) == 0
        # the survivor's log names nodes, never the ingest user's password
        pw = cluster.config().ingest_password
        assert pw not in (tmp_path / "b.log").read_text() + (tmp_path / "a.log").read_text()
        print(f"{total} readings, worker killed at {killed_at} stored, all stored once in "
              f"{elapsed:.1f} s")
    finally:
        for w in (a, b):
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait(10)


async def test_the_queue_leader_killed_loses_no_acknowledged_reading(
        cluster: RabbitCluster, stack, conn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Last in the module (the node stays down): the workers lose their connections to
    the killed node and move to the next URL; every reading a device had a PUBACK for is
    stored once."""
    tag = secrets.token_hex(3)
    home = f"h-lead-{tag}"
    registry.add_home(conn, code=home, community=f"c-{tag}", resident="测试")
    devs = [registry.add_device(conn, home=home, kind="motion", room=room)
            for room in ("bedroom", "kitchen")]
    pws = {d.uid: cluster.add_device(d.uid) for d in devs}
    ids = [d.id for d in devs]
    leader = cluster.leader_index()
    others = [i for i in range(3) if i != leader]
    urls = cluster.amqp_urls()
    # both workers start on the leader's node, so the kill takes their connections too
    order = [urls[leader]] + [urls[i] for i in others]
    a = QueueWorker(stack, f"la-{tag}", order, tmp_path / "a.log")
    b = QueueWorker(stack, f"lb-{tag}", order, tmp_path / "b.log")
    try:
        await wait_until(lambda: a.subscribed() and b.subscribed(), timeout=30)
        ports = [p for _, p in cluster.mqtt_addresses()]
        # devices on the surviving nodes: a device of the killed node would reconnect
        # elsewhere and send again what it had no PUBACK for (the contract), not shown here
        probes = []
        for i, d in enumerate(devs):
            p = DeviceProbe(ports[others[i % 2]], d.uid, pws[d.uid])
            assert p.connect() == 0
            probes.append(p)
        sent: list[dict[int, int]] = [{} for _ in devs]     # mid -> seq

        def publish(k: int, uid: str) -> None:
            p = probes[k]
            for s in range(PER_DEVICE):
                while s - p.kinds().count("puback") > 100:
                    time.sleep(0.005)
                sent[k][p.publish(f"anju/v1/devices/{uid}/motion", reading(s, 1))] = s
                time.sleep(0.001)

        loop = asyncio.get_running_loop()
        pubs = [loop.run_in_executor(None, publish, k, d.uid) for k, d in enumerate(devs)]
        await wait_until(lambda: stored(conn, ids)[0] >= 400, timeout=60)
        t_kill = time.monotonic()
        cluster.kill_node(leader)
        await asyncio.gather(*pubs)
        await asyncio.sleep(3.0)    # the last PUBACKs

        acked = [{sent[k][mid] for kind, mid in p.events if kind == "puback" and mid in sent[k]}
                 for k, p in enumerate(probes)]
        n_acked = sum(len(s) for s in acked)
        assert n_acked >= PER_DEVICE * len(devs) * 0.9

        def missing() -> int:
            n = 0
            for k, d in enumerate(devs):
                rows = conn.execute("SELECT seq FROM readings WHERE device_id = %s",
                                    (d.id,)).fetchall()
                n += len(acked[k] - {r[0] for r in rows})
            return n

        await wait_until(lambda: missing() == 0, timeout=90)
        rows, distinct = stored(conn, ids)
        assert rows == distinct
        print(f"leader node {leader} killed: {n_acked} acknowledged readings, all stored once"
              f" ({rows} rows) {time.monotonic() - t_kill:.1f} s after the kill")
        for p in probes:
            p.close()
        for w in (a, b):
            w.proc.send_signal(signal.SIGTERM)
            assert w.proc.wait(30) == 0
    finally:
        for w in (a, b):
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait(10)
