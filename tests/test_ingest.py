"""Ingest against the real broker and database: stored once, bad input kept, ACLs."""

from __future__ import annotations

import asyncio
import json

import pytest

from anju import mqtt_async
from tests.support import (
    as_admin, as_device, now_ms, publish_series, reading, running_worker, stored, wait_until,
)


async def test_reading_stored_exactly_once_even_when_resent(stack, endpoints, conn, home_factory):
    """A reading is one row; the same reading published again adds none."""
    home, devs = home_factory([("motion", "bedroom")])
    dev = devs["motion-bedroom"]
    async with running_worker(endpoints) as w:
        c = await as_device(stack, dev)
        ts = now_ms()
        for _ in range(3):  # a device re-sending after a lost PUBACK
            c.publish(f"anju/v1/devices/{dev.uid}/motion", reading(7, 1, ts), qos=1)
        await c.wait_inflight_below(0)
        await wait_until(lambda: w.committed_messages >= 3)
        await c.disconnect()
    assert stored(conn, [dev.id]) == (1, 1)
    row = conn.execute("SELECT value, kind, extract(epoch FROM ts) * 1000 FROM readings"
                       " WHERE device_id = %s", (dev.id,)).fetchone()
    assert row[0] == 1.0 and row[1] == 1 and round(row[2]) == ts
    last_seen, online = conn.execute("SELECT last_seen, online FROM devices WHERE id = %s",
                                     (dev.id,)).fetchone()
    assert last_seen is not None and online is True


async def test_redelivered_message_adds_no_row(stack, endpoints, conn, home_factory):
    """A QoS 1 message redelivered with DUP set is recognised by its key."""
    home, devs = home_factory([("water", "kitchen")])
    dev = devs["water-kitchen"]
    async with running_worker(endpoints) as w:
        c = await as_device(stack, dev)
        body = b'{"ts":%d,"seq":1,"value":12.5}' % now_ms()
        topic = f"anju/v1/devices/{dev.uid}/water".encode()
        # The same message twice on the wire, the second with DUP set, as a device resends
        # after a lost PUBACK (ids paho has not used on this connection).
        c._c.socket().sendall(_publish_packet(topic, body, 60001)
                              + _publish_packet(topic, body, 60002, dup=True))
        await wait_until(lambda: w.committed_messages >= 2)
        await c.disconnect()
    assert stored(conn, [dev.id]) == (1, 1)


def _publish_packet(topic: bytes, body: bytes, packet_id: int, dup: bool = False) -> bytes:
    """A QoS 1 PUBLISH as MQTT 3.1.1 encodes it (section 3.3)."""
    rest = len(topic).to_bytes(2, "big") + topic + packet_id.to_bytes(2, "big") + body
    n, length = len(rest), b""
    while True:
        n, digit = n >> 7, n & 0x7F
        length += bytes([digit | (0x80 if n else 0)])
        if not n:
            break
    return bytes([0x32 | (0x08 if dup else 0)]) + length + rest


BAD = [
    ("motion", b"{not json", "malformed JSON"),
    ("motion", b'{"ts": 1, "seq": "x", "value": 1}', "got `str` - at `$.seq`"),
    ("motion", b'{"seq": 1, "value": 1}', "missing required field `ts`"),
    ("water", b'{"ts": %(now)d, "seq": 1, "value": 3}', "cannot report water"),
    ("motion", b'{"ts": %(now)d, "seq": 1, "value": 7}', "must be 0 or 1"),
    ("motion", b'{"ts": %(future)d, "seq": 1, "value": 1}', "in the future"),
    ("motion", b'{"ts": %(past)d, "seq": 1, "value": 1}', "days accepted"),
    ("motion", b'{"ts": 1763856000, "seq": 1, "value": 1}', "accepted (epoch seconds?"),
    ("motion", b'{"ts": "2026-11-23T08:00:00", "seq": 1, "value": 1}', "no UTC offset"),
    ("sideways", b'{"ts": %(now)d, "seq": 1, "value": 1}', "topic leaf 'sideways'"),
    ("motion", b'{"ts": %(now)d, "seq": 1, "value": 1, "pad": "%(big)s"}', "exceeds"),
]


async def test_bad_input_is_kept_with_its_reason(stack, endpoints, conn, home_factory):
    """Every kind of bad message lands in rejected_messages, and the worker goes on."""
    home, devs = home_factory([("motion", "bedroom")])
    dev = devs["motion-bedroom"]
    now = now_ms()
    subst = {b"%(now)d": b"%d" % now, b"%(future)d": b"%d" % (now + 3_600_000),
             b"%(past)d": b"%d" % (now - 30 * 86_400_000), b"%(big)s": b"x" * 70_000}
    async with running_worker(endpoints) as w:
        c = await as_device(stack, dev)
        for leaf, body, _ in BAD:
            for k, v in subst.items():
                body = body.replace(k, v)
            c.publish(f"anju/v1/devices/{dev.uid}/{leaf}", body, qos=1)
        # and a good one after all of them
        c.publish(f"anju/v1/devices/{dev.uid}/motion", reading(99), qos=1)
        await c.wait_inflight_below(0)
        await wait_until(lambda: w.committed_messages >= len(BAD) + 1)
        await c.disconnect()
    rows = conn.execute("SELECT topic, reason, length(payload), payload_len FROM"
                        " rejected_messages WHERE device_uid = %s ORDER BY id",
                        (dev.uid,)).fetchall()
    reasons = [r[1] for r in rows]
    assert len(rows) == len(BAD), reasons
    for _, _, expected in BAD:
        matching = [r for r in reasons if expected in r]
        assert len(matching) == 1 or expected == "days accepted", (expected, reasons)
    # the oversized payload is kept cut to the quarantine's size, with its length
    assert max(r[2] for r in rows) == 4096 and max(r[3] for r in rows) > 64 * 1024
    assert stored(conn, [dev.id]) == (1, 1)


async def test_unknown_device_is_rejected_then_accepted_once_provisioned(
        stack, endpoints, conn, home_factory, monkeypatch):
    """A message from a device not in the registry is kept; once added, its readings flow."""
    from anju import registry
    from ingest import devices

    monkeypatch.setattr(devices, "NEGATIVE_TTL_S", 0.0)  # no wait for the retry

    home, devs = home_factory([("gateway", "hallway")])
    gw = devs["gateway-hallway"]
    async with running_worker(endpoints) as w:
        c = await as_device(stack, gw)
        c.publish(f"anju/v1/gateways/{gw.uid}/door1/door", reading(1), qos=1)
        await c.wait_inflight_below(0)
        await wait_until(lambda: w.committed_messages >= 1)
        rej = conn.execute("SELECT reason FROM rejected_messages WHERE device_uid = %s",
                           (f"{gw.uid}.door1",)).fetchall()
        assert rej and "unknown device 'door1' behind gateway" in rej[0][0]
        d = registry.add_device(conn, home=home, kind="door", room="entrance", gateway=gw.uid,
                                external_name="door1")
        c.publish(f"anju/v1/gateways/{gw.uid}/door1/door", reading(2), qos=1)
        await c.wait_inflight_below(0)
        await wait_until(lambda: w.committed_messages >= 2)
        await c.disconnect()
    assert stored(conn, [d.id]) == (1, 1)


async def test_status_updates_the_device_not_the_readings(stack, endpoints, conn, home_factory):
    """Heartbeats and the last will change the device's row and add no reading."""
    home, devs = home_factory([("smoke", "kitchen")])
    dev = devs["smoke-kitchen"]
    async with running_worker(endpoints) as w:
        will = mqtt_async.Will(f"anju/v1/devices/{dev.uid}/status", b'{"status":"offline"}')
        c = await as_device(stack, dev, will=will)
        c.publish(f"anju/v1/devices/{dev.uid}/status",
                  json.dumps({"ts": now_ms(), "status": "online", "battery": 83,
                              "rssi": -67, "fw": "1.4.2"}).encode(), qos=1)
        await c.wait_inflight_below(0)
        await wait_until(lambda: w.committed_messages >= 1)
        row = conn.execute("SELECT battery_pct, rssi_dbm, firmware, online FROM devices"
                           " WHERE id = %s", (dev.id,)).fetchone()
        assert row == (83.0, -67.0, "1.4.2", True)
        c.abort()  # gone without DISCONNECT: the broker publishes the will
        await wait_until(lambda: w.committed_messages >= 2)
    assert conn.execute("SELECT online FROM devices WHERE id = %s", (dev.id,)).fetchone() == (False,)
    assert stored(conn, [dev.id]) == (0, 0)


async def test_batch_payload(stack, endpoints, conn, home_factory):
    """A batch message stores each of its readings."""
    home, devs = home_factory([("power", "kitchen")])
    dev = devs["power-kitchen"]
    now = now_ms()
    body = json.dumps({"readings": [
        {"kind": "power", "ts": now - 2000, "seq": 1, "value": 1200.5},
        {"kind": "energy", "ts": now - 2000, "seq": 1, "value": 53000},
        {"kind": "power", "ts": now - 1000, "seq": 2, "value": 5.0},
    ]}).encode()
    async with running_worker(endpoints) as w:
        c = await as_device(stack, dev)
        c.publish(f"anju/v1/devices/{dev.uid}/batch", body, qos=1)
        await c.wait_inflight_below(0)
        await wait_until(lambda: w.committed_messages >= 1)
        await c.disconnect()
    rows = conn.execute("SELECT kind, value FROM readings WHERE device_id = %s ORDER BY ts, kind",
                        (dev.id,)).fetchall()
    assert rows == [(6, 1200.5), (7, 53000.0), (6, 5.0)]


async def test_broker_refuses_foreign_topics_and_strangers(stack, endpoints, conn, home_factory):
    """A device cannot publish as another; anonymous and unknown clients cannot connect."""
    home, devs = home_factory([("motion", "bedroom"), ("door", "entrance")])
    a, b = devs["motion-bedroom"], devs["door-entrance"]
    watcher_got: list[mqtt_async.Message] = []
    watcher = await as_admin(stack, on_messages=watcher_got.extend)
    await watcher.subscribe([(f"anju/v1/devices/{b.uid}/#", 1), (f"anju/v1/devices/{a.uid}/#", 1)])
    ca = await as_device(stack, a)
    ca.publish(f"anju/v1/devices/{b.uid}/door", reading(1), qos=1)   # forged
    ca.publish(f"anju/v1/devices/{a.uid}/motion", reading(2), qos=1)  # its own
    await ca.wait_inflight_below(0)
    await asyncio.sleep(0.5)
    assert [m.topic for m in watcher_got] == [f"anju/v1/devices/{a.uid}/motion"]
    port = stack.credentials().mqtt_port
    for kw in ({}, {"username": a.uid, "password": "wrong"},
               {"username": "nobody", "password": "x"}):
        with pytest.raises(mqtt_async.ConnectRefused):
            await mqtt_async.connect("127.0.0.1", port, client_id="x", reconnect=False, **kw)
    await ca.disconnect()
    await watcher.disconnect()


async def test_new_device_connects_without_broker_restart(stack, conn, home_factory):
    """Credentials are reloaded live: a device added now can connect at once."""
    home, devs = home_factory([("button", "bedroom")])
    watcher = await as_admin(stack)  # a connection that must survive the reload
    c = await as_device(stack, devs["button-bedroom"])
    await c.disconnect()
    assert watcher.connected and watcher.connects == 1, "the reload dropped no connection"
    await watcher.disconnect()


async def test_two_workers_share_the_stream(stack, endpoints, conn, home_factory, unique):
    """Two workers on one shared subscription split the messages and lose none."""
    home, devs = home_factory([("motion", "bedroom"), ("motion", "kitchen")])
    ids = [d.id for d in devs.values()]
    group = f"pair-{unique}"
    async with running_worker(endpoints, group=group, worker="a") as w1, \
            running_worker(endpoints, group=group, worker="b") as w2:
        conns = [await as_device(stack, d) for d in devs.values()]
        await asyncio.gather(*(publish_series(c, d.uid, 1000) for c, d in
                               zip(conns, devs.values())))
        await wait_until(lambda: w1.committed_messages + w2.committed_messages >= 2000)
        for c in conns:
            await c.disconnect()
    assert w1.committed_messages > 300 and w2.committed_messages > 300
    assert stored(conn, ids) == (2000, 2000)


async def test_full_queue_blocks_instead_of_dropping(stack, endpoints, conn, home_factory):
    """With a tiny queue the worker pauses the broker and still stores everything."""
    home, devs = home_factory([("motion", "bedroom")])
    dev = devs["motion-bedroom"]
    async with running_worker(endpoints, queue_max=100, batch_size=50) as w:
        c = await as_device(stack, dev)
        await publish_series(c, dev.uid, 3000)
        await wait_until(lambda: w.committed_messages >= 3000)
        await c.disconnect()
        assert w.metrics.blocked._value.get() > 0
    assert stored(conn, [dev.id]) == (3000, 3000)


async def test_zigbee2mqtt_bridge_through_the_broker(stack, endpoints, conn, home_factory):
    """A zigbee2mqtt bridge publishing with its gateway credentials is stored as readings."""
    from anju import registry

    home, devs = home_factory([("gateway", "hallway")])
    gw = devs["gateway-hallway"]
    door = registry.add_device(conn, home=home, kind="door", room="entrance", gateway=gw.uid,
                               external_name="front_door")
    async with running_worker(endpoints) as w:
        c = await as_device(stack, gw)
        c.publish(f"anju/v1/z2m/{gw.uid}/front_door",
                  b'{"battery":91,"contact":false,"linkquality":120,"last_seen":%d}' % now_ms(),
                  qos=1)
        c.publish(f"anju/v1/z2m/{gw.uid}/bridge/logging", b'{"level":"info","message":"x"}',
                  qos=1)
        await c.wait_inflight_below(0)
        await wait_until(lambda: w.committed_messages >= 2)
        await c.disconnect()
    assert conn.execute("SELECT kind, value FROM readings WHERE device_id = %s",
                        (door.id,)).fetchall() == [(2, 1.0)]
    assert conn.execute("SELECT battery_pct FROM devices WHERE id = %s",
                        (door.id,)).fetchone() == (91.0,)
