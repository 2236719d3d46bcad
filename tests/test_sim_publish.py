"""Simulated homes publish over the real broker with their own credentials, on the right topics."""

from __future__ import annotations

import asyncio
import json
import os
import stat

from anju.mqtt_async import ConnectRefused
from anju import mqtt_async, registry
from anju.endpoints import MqttEndpoint
from simulators import fleet
from simulators.generate import FleetSpec
from simulators.homes import make_fleet


def _sync(stack, conn) -> None:
    stack.write_broker_files(registry.broker_user_hashes(conn))
    stack.reload_broker()


async def _collect(stack, received: list, ready: asyncio.Event):
    pw = stack.credentials().mqtt_users["anju-admin"]
    ep = MqttEndpoint.from_url(stack.mqtt_url())
    sub = await mqtt_async.connect(ep.host, ep.port, client_id="sim-test-sub", username="anju-admin",
                             password=pw, on_messages=received.extend)
    await sub.subscribe([("anju/v1/#", 1)])
    return sub


async def _publish_and_check(stack, conn, tmp_path, unique, gateway_mode: bool):
    creds = tmp_path / "sim-credentials.json"
    profiles = make_fleet(3, seed=5, prefix=f"s{unique}{'g' if gateway_mode else 'd'}")
    homes = fleet.provision(conn, profiles, credentials=creds, gateway_mode=gateway_mode)
    _sync(stack, conn)
    await asyncio.sleep(0.3)
    assert stat.S_IMODE(os.stat(creds).st_mode) == 0o600
    # provisioning again reuses the homes and their credentials
    again = fleet.provision(conn, profiles, credentials=creds, gateway_mode=gateway_mode)
    assert [h.passwords for h in again] == [h.passwords for h in homes]

    received: list[mqtt_async.Message] = []
    sub = await _collect(stack, received, asyncio.Event())
    start, _ = FleetSpec(homes=1, days=1, seed=0, start="2024-03-05").span()
    start += 7 * 3600          # the morning routine: motion, doors, water, kettle
    end = start + 2 * 3600
    ep = MqttEndpoint.from_url(stack.mqtt_url())
    stats = await fleet.publish_fleet(ep, homes, start, end, speed=3600 * 8)
    expect = fleet.count_events(homes, start, end)
    assert stats.readings == expect["readings"] and stats.statuses == expect["statuses"]
    for _ in range(100):
        if len(received) >= stats.messages:
            break
        await asyncio.sleep(0.05)
    await sub.disconnect()
    mine = [m for m in received if f"s{unique}" in m.topic]
    assert len(mine) == stats.messages

    uids = {d.uid: (h, d) for h in homes for d in h.profile.devices}
    names = {(h.gateway, d.name): d for h in homes for d in h.profile.devices}
    readings = 0
    for m in mine:
        parts = m.topic.split("/")
        if gateway_mode:
            assert parts[:3] == ["anju", "v1", "gateways"] and (parts[3], parts[4]) in names
            dev = names[(parts[3], parts[4])]
        else:
            assert parts[:3] == ["anju", "v1", "devices"] and parts[3] in uids
            dev = uids[parts[3]][1]
        leaf = parts[-1]
        body = json.loads(m.payload)
        assert m.qos == 1
        if leaf == "status":
            assert body["status"] == "online" and start * 1000 <= body["ts"] < end * 1000
            assert ("battery" in body) == (not dev.mains)
        elif leaf == "batch":
            assert 1 < len(body["readings"]) <= 500
            readings += len(body["readings"])
        else:
            assert leaf in ("motion", "door", "contact", "presence", "water", "power", "energy",
                            "smoke", "gas", "leak", "button")
            assert set(body) == {"ts", "seq", "value"} and start * 1000 <= body["ts"] < end * 1000
            readings += 1
    assert readings == stats.readings > 0
    return stats


async def test_publish_per_device_credentials(stack, conn, tmp_path, unique):
    stats = await _publish_and_check(stack, conn, tmp_path, unique, gateway_mode=False)
    assert stats.connections == sum(len(h.devices) for h in make_fleet(3, seed=5, prefix="x"))


async def test_publish_through_home_gateways(stack, conn, tmp_path, unique):
    stats = await _publish_and_check(stack, conn, tmp_path, unique, gateway_mode=True)
    assert stats.connections == stats.homes == 3


async def test_wrong_credentials_are_refused(stack, conn, tmp_path, unique):
    profiles = make_fleet(1, seed=6, prefix=f"s{unique}x")
    homes = fleet.provision(conn, profiles, credentials=tmp_path / "c.json", gateway_mode=False)
    _sync(stack, conn)
    homes[0].passwords[homes[0].profile.devices[0].uid] = "wrong"
    ep = MqttEndpoint.from_url(stack.mqtt_url())
    try:
        await fleet.publish_fleet(ep, homes, 1709510400, 1709510400 + 600, speed=0)
    except ConnectRefused:
        return
    raise AssertionError("the broker accepted a wrong password")
