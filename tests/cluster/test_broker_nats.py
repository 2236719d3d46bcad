"""A 3-node NATS 2.9 cluster (JetStream, MQTT) under the device contract: per-device
permissions, the durable consumer on the `$MQTT_msgs` stream the PUBACK waits for, and no
acknowledged reading lost when that stream's leader node is killed under load."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from anju.cluster.nats import CONSUMER, NatsCluster
from tests.cluster.broker_support import DeviceProbe, connected, puback_from_lone_node

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    c = NatsCluster(tmp_path_factory.mktemp("nats"), 3, capture="mqtt")
    try:
        c.up()
        c.add_devices({"t-d1": "pw-d1", "t-d2": "pw-d2", "t.d3": "pw-d3"})
        yield c
    finally:
        c.down()


async def drain(c: NatsCluster, seconds: float = 3.0) -> list[tuple[str, dict[str, object]]]:
    """(subject, payload) of everything pending for the ingest's consumer, acknowledged."""
    import nats
    from nats.errors import TimeoutError as NatsTimeout

    out: list[tuple[str, dict[str, object]]] = []
    nc = await nats.connect(servers=c.nats_urls())
    try:
        sub = await nc.jetstream().pull_subscribe_bind(CONSUMER, c.consumer_target()[0])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            try:
                msgs = await sub.fetch(100, timeout=0.5)
            except (NatsTimeout, asyncio.TimeoutError):
                continue
            for m in msgs:
                out.append((m.subject, json.loads(m.data)))
                await m.ack_sync()
    finally:
        await nc.close()
    return out


def node_port(c: NatsCluster, i: int) -> int:
    return c.mqtt_addresses()[i][1]


def ports_from(c: NatsCluster, i: int) -> list[int]:
    """The nodes' MQTT ports, node i first."""
    ports = [p for _, p in c.mqtt_addresses()]
    return ports[i:] + ports[:i]


async def wait_reloaded() -> None:
    await asyncio.sleep(1.0)  # add_devices reloads every node (SIGHUP)


async def test_a_permitted_device_publishes_and_a_consumer_gets_it(cluster: NatsCluster) -> None:
    await wait_reloaded()
    await drain(cluster, 0.5)
    d = connected(ports_from(cluster, 1), "t-d1", "pw-d1")
    d.publish("anju/v1/devices/t-d1/motion", b'{"ts": 1, "seq": 4711, "value": 1}')
    assert d.wait_for("puback") is not None
    d.close()
    got = await drain(cluster)
    assert ("$MQTT.msgs.anju.v1.devices.t-d1.motion", {"ts": 1, "seq": 4711, "value": 1}) in got


async def test_publishing_outside_its_topic_is_dropped_silently(cluster: NatsCluster) -> None:
    await drain(cluster, 0.5)
    d = connected(ports_from(cluster, 0), "t-d1", "pw-d1")
    d.publish("anju/v1/devices/t-d2/motion", b'{"ts": 1, "seq": 99, "value": 1}')
    d.publish("anju/v1/devices/t-d1/motion", b'{"ts": 1, "seq": 100, "value": 1}')
    # both acknowledged (as Mosquitto does under 3.1.1), only the permitted one kept. The
    # refused one is acknowledged at once, the kept one once the replicated stream has it:
    # once, in a whole cluster run, that came after the 0.5 s this test allowed (not
    # reproduced under CPU load alone), so it is waited for, not timed
    deadline = time.monotonic() + 15
    while d.kinds().count("puback") < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert d.kinds().count("puback") == 2 and "disconnect" not in d.kinds()
    d.close()
    subjects = [s for s, _ in await drain(cluster, 1.5)]
    assert "$MQTT.msgs.anju.v1.devices.t-d1.motion" in subjects
    assert not any(s.endswith("t-d2.motion") for s in subjects)



async def test_a_gateway_publishes_for_the_devices_behind_it(cluster: NatsCluster) -> None:
    cluster.add_gateway("t-gw", "pw-gw")
    await asyncio.sleep(1.0)  # NATS: every node reloaded
    await drain(cluster, 0.5)
    d = connected(ports_from(cluster, 1), "t-gw", "pw-gw")
    d.publish("anju/v1/gateways/t-gw/door-1/door", b'{"ts": 3, "seq": 1, "value": 1}')
    assert d.wait_for("puback") is not None
    d.close()
    got = await drain(cluster)
    assert ("$MQTT.msgs.anju.v1.gateways.t-gw.door-1.door", {"ts": 3, "seq": 1, "value": 1}) in got

async def test_a_subscription_is_refused(cluster: NatsCluster) -> None:
    d = connected(ports_from(cluster, 2), "t-d1", "pw-d1")
    d.c.subscribe("anju/v1/devices/t-d1/#", 1)
    assert d.wait_for("suback") == [0x80]
    d.close()


def test_a_wrong_password_is_refused(cluster: NatsCluster) -> None:
    d = DeviceProbe(node_port(cluster, 0), "t-d1", "not-the-password")
    assert d.connect() == 135  # 3.1.1 CONNACK 5 "not authorised", as paho names it
    d.close()


def test_a_device_id_with_a_dot_cannot_connect_or_publish(cluster: NatsCluster) -> None:
    """The contract allows `.` in a device id; nats-server 2.9 refuses a `.` in a topic
    (errMQTTUnsupportedCharacters) and closes the connection: at CONNECT, for the will's
    topic, or at the first PUBLISH for a device without a will."""
    d = DeviceProbe(node_port(cluster, 0), "t.d3", "pw-d3")
    assert d.connect() is None and d.wait_for("disconnect") is not None
    d.close()
    d = connected(ports_from(cluster, 0), "t.d3", "pw-d3", will=False)
    d.publish("anju/v1/devices/t.d3/motion", b'{"ts": 1, "seq": 1, "value": 1}')
    assert d.wait_for("disconnect") is not None
    assert "puback" not in d.kinds()
    d.close()


def test_killing_the_stream_leader_under_load_loses_no_acknowledged_reading(
        cluster: NatsCluster) -> None:
    """Last in the module: the leader node stays down."""
    from devtools.bench_broker_cluster import run

    asyncio.run(drain(cluster, 0.5))
    leader = cluster.leader_index()
    r = run("nats", devices=6, messages=6000, publishers=1, consumers=2, cluster=cluster,
            drain_timeout=60)
    assert r["killed_node"] == leader
    assert r["acknowledged"] == r["published"] == 6000
    assert r["lost"] == 0, r["lost_examples"]
    assert r["devices_reconnected"] >= 2
    assert cluster.pid(leader) is None and len(cluster.node_pids()) == 2


async def test_the_killed_node_comes_back_and_takes_readings(cluster: NatsCluster) -> None:
    """After the kill above: the node started again rejoins, and a device on it is
    acknowledged and consumed."""
    dead = next(i for i in range(3) if cluster.pid(i) is None)
    t0 = time.monotonic()
    cluster.start_node(dead)
    d = connected(ports_from(cluster, dead), "t-d2", "pw-d2")
    d.publish("anju/v1/devices/t-d2/motion", b'{"ts": 2, "seq": 8, "value": 1}')
    assert d.wait_for("puback", 30) is not None
    print(f"node {dead} back and acknowledging in {time.monotonic() - t0:.1f} s")
    d.close()
    got = await drain(cluster)
    assert ("$MQTT.msgs.anju.v1.devices.t-d2.motion", {"ts": 2, "seq": 8, "value": 1}) in got
    assert len(cluster.node_pids()) == 3


def test_a_lone_node_acknowledges_nothing(cluster: NatsCluster) -> None:
    """Two nodes killed: the $MQTT_msgs stream has no majority left, so
    the last node must not send a PUBACK (it would be a reading on one disk only)."""
    alive = list(cluster.node_pids())
    assert len(alive) == 3
    cluster.kill_node(alive[0])
    cluster.kill_node(alive[1])
    assert not puback_from_lone_node(node_port(cluster, alive[2]), "t-d1", "pw-d1")
