"""A 3-node RabbitMQ 3.10 cluster under the device contract: per-device permissions, the
quorum queue that captures the devices' topics, and no acknowledged reading lost when
the queue's leader node is killed under load."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from anju.cluster.rabbitmq import QUEUE, RabbitCluster
from tests.cluster.broker_support import DeviceProbe, puback_from_lone_node

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    c = RabbitCluster(tmp_path_factory.mktemp("rabbitmq"), 3)
    try:
        c.up()
        c.add_devices({"t-d1": "pw-d1", "t-d2": "pw-d2"})
        yield c
    finally:
        c.down()


async def drain(c: RabbitCluster, seconds: float = 3.0) -> list[tuple[str, dict[str, object]]]:
    """(routing key, payload) of everything in the capture queue, acknowledged."""
    import aiormq

    out: list[tuple[str, dict[str, object]]] = []
    conn = await aiormq.connect(c.amqp_urls()[0])
    try:
        ch = await conn.channel()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            m = await ch.basic_get(QUEUE)
            if m.delivery_tag is None:   # Basic.GetEmpty
                await asyncio.sleep(0.1)
                continue
            out.append((m.routing_key or "", json.loads(m.body)))
            await ch.basic_ack(m.delivery_tag)
    finally:
        await conn.close()
    return out


def node_port(c: RabbitCluster, i: int) -> int:
    return c.mqtt_addresses()[i][1]


async def test_a_permitted_device_publishes_and_a_consumer_gets_it(cluster: RabbitCluster) -> None:
    await drain(cluster, 0.5)
    d = DeviceProbe(node_port(cluster, 1), "t-d1", "pw-d1")
    assert d.connect() == 0
    d.publish("anju/v1/devices/t-d1/motion", b'{"ts": 1, "seq": 4711, "value": 1}')
    assert d.wait_for("puback") is not None
    d.close()
    got = await drain(cluster)
    assert ("anju.v1.devices.t-d1.motion", {"ts": 1, "seq": 4711, "value": 1}) in got


async def test_publishing_outside_its_topic_closes_the_connection(cluster: RabbitCluster) -> None:
    await drain(cluster, 0.5)
    d = DeviceProbe(node_port(cluster, 0), "t-d1", "pw-d1")
    assert d.connect() == 0
    d.publish("anju/v1/devices/t-d2/motion", b'{"ts": 1, "seq": 99, "value": 1}')
    # 3.10 closes the connection on a refused topic permission (no PUBACK)
    assert d.wait_for("disconnect") is not None
    assert "puback" not in d.kinds()
    d.close()
    assert not any(key.endswith("t-d2.motion") for key, _ in await drain(cluster, 1.5))



async def test_a_gateway_publishes_for_the_devices_behind_it(cluster: RabbitCluster) -> None:
    cluster.add_gateway("t-gw", "pw-gw")
    await asyncio.sleep(1.0)  # NATS: every node reloaded
    await drain(cluster, 0.5)
    d = DeviceProbe(node_port(cluster, 1), "t-gw", "pw-gw")
    assert d.connect() == 0
    d.publish("anju/v1/gateways/t-gw/door-1/door", b'{"ts": 3, "seq": 1, "value": 1}')
    assert d.wait_for("puback") is not None
    d.close()
    got = await drain(cluster)
    assert ("anju.v1.gateways.t-gw.door-1.door", {"ts": 3, "seq": 1, "value": 1}) in got

async def test_a_subscription_is_refused(cluster: RabbitCluster) -> None:
    d = DeviceProbe(node_port(cluster, 2), "t-d1", "pw-d1")
    assert d.connect() == 0
    d.c.subscribe("anju/v1/devices/t-d1/#", 1)
    # the subscription queue cannot be declared (no configure permission): disconnected
    assert d.wait_for("disconnect") is not None
    assert "suback" not in d.kinds()
    d.close()


def test_a_wrong_password_is_refused(cluster: RabbitCluster) -> None:
    d = DeviceProbe(node_port(cluster, 0), "t-d1", "not-the-password")
    assert d.connect() == 134  # 3.1.1 CONNACK 4 "bad user name or password", as paho names it
    d.close()


def test_killing_the_queue_leader_under_load_loses_no_acknowledged_reading(
        cluster: RabbitCluster) -> None:
    """Last in the module: the leader node stays down."""
    from devtools.bench_broker_cluster import run

    asyncio.run(drain(cluster, 0.5))
    leader = cluster.leader_index()
    r = run("rabbitmq", devices=6, messages=6000, publishers=1, consumers=2, cluster=cluster,
            drain_timeout=60)
    assert r["killed_node"] == leader
    assert r["acknowledged"] == r["published"] == 6000
    assert r["lost"] == 0, r["lost_examples"]
    assert r["devices_reconnected"] >= 2   # those on the killed node moved to another
    assert cluster.pid(leader) is None and len(cluster.node_pids()) == 2


async def test_the_killed_node_comes_back_and_takes_readings(cluster: RabbitCluster) -> None:
    """After the kill above: the node started again rejoins, and a device on it is
    acknowledged and consumed."""
    dead = next(i for i in range(3) if cluster.pid(i) is None)
    t0 = time.monotonic()
    cluster.start_node(dead)
    d = DeviceProbe(node_port(cluster, dead), "t-d2", "pw-d2")
    assert d.connect() == 0
    d.publish("anju/v1/devices/t-d2/motion", b'{"ts": 2, "seq": 8, "value": 1}')
    assert d.wait_for("puback", 30) is not None
    print(f"node {dead} back and acknowledging in {time.monotonic() - t0:.1f} s")
    d.close()
    got = await drain(cluster)
    assert ("anju.v1.devices.t-d2.motion", {"ts": 2, "seq": 8, "value": 1}) in got
    assert len(cluster.node_pids()) == 3


def test_a_lone_node_acknowledges_nothing(cluster: RabbitCluster) -> None:
    """Two nodes killed: the quorum queue has no majority left, so
    the last node must not send a PUBACK (it would be a reading on one disk only)."""
    alive = list(cluster.node_pids())
    assert len(alive) == 3
    cluster.kill_node(alive[0])
    cluster.kill_node(alive[1])
    assert not puback_from_lone_node(node_port(cluster, alive[2]), "t-d1", "pw-d1")
