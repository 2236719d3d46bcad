"""No single message can stop the ingest: poison payloads, floods, database refusals, and a
stop asked for while the database is away."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anju import registry
from anju.embedded import Stack
from ingest import writer
from ingest.decode import decode
from ingest.message import Limits, Status, device_ref
from tests.conftest import fresh_stack, sync_broker
from tests.support import (
    IngestProcess, as_device, now_ms, publish_series, reading, running_worker, stored, wait_until,
)

NOW_US = 1_780_000_000_000_000


class Registry:
    def device(self, uid: str):
        return device_ref(7, uid, 1, "motion") if uid.startswith("d") else None

    def behind_gateway(self, gateway_uid: str, name: str):
        return device_ref(8, name, 1, "water") if name.startswith("d") else None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=30)
topics = st.one_of(
    st.text(max_size=60),
    st.builds(lambda fam, uid, leaf: f"anju/v1/{fam}/{uid}/{leaf}",
              st.sampled_from(["devices", "gateways", "z2m", "tasmota", "shelly", "x"]),
              st.sampled_from(["d1", "nobody", ""]) | st.text(max_size=8),
              st.sampled_from(["motion", "status", "batch", "water", "tele/SENSOR",
                               "d2/status"]) | st.text(max_size=12)))
payloads = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(lambda fw, ts: json.dumps({"fw": fw, "ts": ts, "status": "online"}).encode(),
              st.text(), st.one_of(st.integers(), st.text())),
    st.integers(1, 3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.binary(max_size=40).map(lambda b: b'{"ts":"' + b + b'","value":1}'))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topic=topics, payload=payloads)
def test_decode_takes_anything(topic: str, payload: bytes) -> None:
    """Whatever arrives: no exception; stored (rows or status), ignored, or quarantined with a
    reason; and nothing the database cannot store."""
    out = decode(topic, payload, Registry(), NOW_US, Limits())
    assert out.rows or out.status is not None or out.ignored or out.reject
    if out.reject is not None:
        assert out.reject and not out.rows and out.status is None
    if out.status is not None and out.status.firmware is not None:
        assert "\x00" not in out.status.firmware
        out.status.firmware.encode()          # no lone surrogates


POISON = [
    ("motion", b'{"ts":"\xff"}', "not UTF-8"),
    ("motion", b'{"a":' * 1000 + b"1" + b"}" * 1000, "nested deeper"),
    ("status", b'{"fw":"a\\u0000b"}', None),                # stored, the NUL escaped
    ("status", b'{"fw":"a\\ud800b"}', "malformed JSON"),    # a lone surrogate
    ("motion", b"[" * 60000, "nested deeper"),
]


async def test_each_poison_then_another_home_is_stored(stack, endpoints, conn, home_factory):
    """Each poison kind once at QoS 1, then 100 readings from another home: all stored within
    seconds (the worker neither drops its connection nor stalls)."""
    _, devs = home_factory([("motion", "bedroom")])
    _, good = home_factory([("motion", "kitchen")])
    bad, ok = devs["motion-bedroom"], good["motion-kitchen"]
    async with running_worker(endpoints):
        attacker, victim = await as_device(stack, bad), await as_device(stack, ok)
        for i, (leaf, payload, why) in enumerate(POISON):
            attacker.publish(f"anju/v1/devices/{bad.uid}/{leaf}", payload, qos=1)
            await attacker.wait_inflight_below(0)
            t0 = time.monotonic()
            await publish_series(victim, ok.uid, 100, seq0=i * 1000)
            await wait_until(lambda: stored(conn, [ok.id])[0] == (i + 1) * 100, 10)
            print(f"after poison {i} ({why or 'escaped'}): 100 of 100 readings of another "
                  f"home stored in {time.monotonic() - t0:.2f} s")
        await attacker.disconnect()
        await victim.disconnect()
    reasons = [r[0] for r in conn.execute(
        "SELECT reason FROM rejected_messages WHERE device_uid = %s ORDER BY id",
        (bad.uid,)).fetchall()]
    for _, _, why in POISON:
        if why:
            assert any(why in r for r in reasons), (why, reasons)
    (fw,) = conn.execute("SELECT firmware FROM devices WHERE id = %s", (bad.id,)).fetchone()
    assert fw == "a\\u0000b", "the status stored, its NUL escaped"


async def test_a_batch_the_database_refuses_is_split_and_the_bad_part_quarantined(
        db_url, conn, home_factory):
    """Text the database refuses (here a NUL, put in past the decoder): the batch is written
    by halves, its readings stored, the refused status quarantined with the database's reason."""
    _, devs = home_factory([("motion", "bedroom")])
    dev = devs["motion-bedroom"]
    b = writer.Batch()
    b.add_rows([(now_ms() * 1000 - i * 1000, i, 1.0, dev.id, 1) for i in range(50)])
    b.add_status(Status(dev.id, online=True, firmware="a\x00b"))
    async with await psycopg.AsyncConnection.connect(db_url) as a:
        await writer.prepare(a)
        with pytest.raises(psycopg.DataError):
            await writer.write(a, b)
        result = await writer.write_split(a, b)
    assert result.inserted == 50 and stored(conn, [dev.id]) == (50, 50)
    (reason,) = conn.execute("SELECT reason FROM rejected_messages WHERE topic = %s",
                             (f"status of device id {dev.id}",)).fetchone()
    assert "refused this status" in reason and "0x00" in reason


async def test_a_flood_is_counted_not_kept(stack, endpoints, conn, home_factory):
    """500 payloads of 120 KB from one device: 100 kept (cut to 4 KB, their length kept), all
    500 counted; another device's readings stored meanwhile; the CLI shows any bytes."""
    _, devs = home_factory([("motion", "bedroom")])
    _, good = home_factory([("motion", "kitchen")])
    bad, ok = devs["motion-bedroom"], good["motion-kitchen"]
    async with running_worker(endpoints):
        attacker, victim = await as_device(stack, bad), await as_device(stack, ok)
        big = b"\x00" + os.urandom(120 * 1024 - 1)
        t0 = time.monotonic()
        for _ in range(500):
            await attacker.wait_inflight_below(100)
            attacker.publish(f"anju/v1/devices/{bad.uid}/motion", big, qos=1)
        await publish_series(victim, ok.uid, 100)
        await attacker.wait_inflight_below(0)
        await wait_until(lambda: stored(conn, [ok.id])[0] == 100, 20)
        await wait_until(lambda: (conn.execute(
            "SELECT coalesce(sum(n), 0) FROM rejected_counts WHERE device_uid = %s",
            (bad.uid,)).fetchone()[0]) == 500, 30)
        took = time.monotonic() - t0
        await attacker.disconnect()
        await victim.disconnect()
    kept, biggest, stated, stored_bytes = conn.execute(
        "SELECT count(*), max(length(payload)), max(payload_len), sum(length(payload))"
        " FROM rejected_messages WHERE device_uid = %s", (bad.uid,)).fetchone()
    assert kept == 100 and biggest <= 4096 and stated == 120 * 1024
    n, k = conn.execute("SELECT sum(n), sum(kept) FROM rejected_counts WHERE device_uid = %s",
                        (bad.uid,)).fetchone()
    assert (n, k) == (500, 100)
    print(f"\nflood of 500 x 120 KB: {kept} rows kept, {stored_bytes} bytes of payload stored, "
          f"{n} counted, in {took:.1f} s")
    env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir))
    for k_ in ("ANJU_DATABASE_URL", "ANJU_MQTT_URL", "ANJU_CONFIG"):
        env.pop(k_, None)
    cli = subprocess.run([sys.executable, "-m", "anju.cli", "readings", "rejected", "-n", "3"],
                         env=env, capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    assert f"device {bad.uid}: 500 rejected (100 kept)" in cli.stdout
    assert "\\x00" in cli.stdout and "(of 122880 bytes)" in cli.stdout


@pytest.fixture(scope="module")
def own_stack() -> Iterator[Stack]:
    """Servers of its own: this test stops PostgreSQL."""
    yield from fresh_stack("anju-sigterm-")


async def test_sigterm_during_a_database_outage(own_stack: Stack, tmp_path: Path):
    """Asked to stop while the database is away and a batch waits: gone within seconds,
    without acknowledging; after a restart the reading is stored (nothing lost)."""
    stack = own_stack
    with psycopg.connect(stack.database_url(), autocommit=True) as conn:
        registry.add_home(conn, code="sig-1", community="sig", resident="测试")
        dev = registry.add_device(conn, home="sig-1", kind="motion", room="bedroom")
        sync_broker(stack, conn)
    ingest = IngestProcess(stack, "sig", tmp_path / "ingest.log", group="sig")
    ingest.start()
    await ingest.wait_subscribed()
    stack.stop_postgres("fast")
    try:
        c = await as_device(stack, dev)
        c.publish(f"anju/v1/devices/{dev.uid}/motion", reading(1, 1, now_ms()), qos=1)
        await c.wait_inflight_below(0)
        await c.disconnect()
        time.sleep(3)                     # the batch is being retried
        assert ingest.proc and ingest.proc.poll() is None
        t0 = time.monotonic()
        ingest.proc.send_signal(signal.SIGTERM)
        ingest.proc.wait(20)
        took = time.monotonic() - t0
        print(f"\nSIGTERM during a database outage: exited in {took:.2f} s")
        assert took < 10, (ingest.log.read_text()[-2000:])
    finally:
        stack.start_postgres()
    ingest.start()
    await ingest.wait_subscribed(times=2)
    with psycopg.connect(stack.database_url(), autocommit=True) as conn:
        await wait_until(lambda: stored(conn, [dev.id]) == (1, 1), 20)
    ingest.stop()
