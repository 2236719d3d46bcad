"""`anju device check` and the device's check page: the conformance report.

Pure tests judge constructed message lists; live tests run the check against the real broker
while simulated devices publish (a conforming one, and one per fault of issue #22, each
fault detected and named); a console test shows the report on what the database holds."""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest

from anju import mqtt_async, registry
from anju.embedded import Stack
from anju.endpoints import Endpoints, MqttEndpoint
from anju.registry import NewDevice
from ingest import conformance as cf
from ingest.conformance_live import run_check
from tests.conftest import sync_broker
from tests.console_world import ServerThread, World, sign_in
from tests.support import running_worker, wait_until

pytestmark = pytest.mark.timeout(90)

T0 = 1_764_900_000.0        # a fixed moment (2025-12-05) for the pure tests, second :00


def obs(uid: str, leaf: str, doc: Any, at_s: float, *, retained: bool = False) -> cf.Observed:
    payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return cf.Observed(f"anju/v1/devices/{uid}/{leaf}", payload, int(at_s * 1e6), retained)


def status(uid: str, at_s: float, state: str = "online", **kw: Any) -> cf.Observed:
    return obs(uid, "status", {"ts": int(at_s * 1000), "status": state, **kw}, at_s)


def reading(uid: str, leaf: str, at_s: float, value: float, seq: int | None, *,
            ts: int | None = None, lag: float = 0.2) -> cf.Observed:
    doc: dict[str, Any] = {"ts": ts if ts is not None else int((at_s - lag) * 1000),
                           "value": value}
    if seq is not None:
        doc["seq"] = seq
    return obs(uid, leaf, doc, at_s)


def report(dev: cf.DeviceInfo, msgs: list[cf.Observed], *, minutes: float = 5,
           fleet: list[float] | None = None) -> cf.Report:
    return cf.check(dev, msgs, since_us=int(T0 * 1e6),
                    until_us=int((T0 + minutes * 60) * 1e6), fleet=fleet)


def codes(r: cf.Report) -> dict[str, tuple[str, str]]:
    return {v.requirement: (v.level, v.code) for v in r.verdicts}


WATER = cf.DeviceInfo(uid="wm-1", kind="water", heartbeat_s=60, vendor="Acme", model="WM-2")


def conforming_water(n: int = 5, second: float = 23.4) -> list[cf.Observed]:
    msgs = [status("wm-1", T0 + 0.5, fw="2.1")]
    for k in range(n):
        msgs.append(reading("wm-1", "water", T0 + 60 * k + second, 100.0 + 1.5 * k, 40 + k))
        msgs.append(status("wm-1", T0 + 60 * (k + 1) + 0.5))
    msgs.append(status("wm-1", T0 + 60 * n + 10, "offline"))
    return msgs


# -- pure: the verdicts --------------------------------------------------------------------


def test_a_conforming_meter_passes_every_requirement() -> None:
    r = report(WATER, conforming_water(), fleet=[7.0, 41.5, 12.0])
    assert {k: v[0] for k, v in codes(r).items()} == {req: "pass" for req in cf.REQUIREMENTS}
    assert codes(r)["last_will"] == ("pass", "seen")
    assert codes(r)["report_offset"] == ("pass", "ok")
    assert r.verdict("report_offset").fields["second"] == "23.4"
    assert not r.failed and r.worst == "pass"
    first = r.lines[1].items[0]
    assert (first.kind, first.value, first.unit, first.seq) == ("water", 100.0, "L (cumulative)", 40)
    assert first.offset_s == pytest.approx(-0.2, abs=0.01)
    assert r.device.firmware == "2.1"            # what the device's status says


def test_the_summary_names_the_device_the_window_and_every_verdict() -> None:
    r = report(WATER, conforming_water())
    en = r.summary("en")
    for part in ("wm-1", "Acme", "WM-2", "2.1", "12 messages", "Last will", "Heartbeat",
                 "Reporting offset", "Every requirement passes"):
        assert part in en, part
    zh = r.summary("zh-CN")
    assert "接入规范检测报告" in zh and "遗嘱消息" in zh and "所有要求均通过" in zh
    doc = r.as_json("en")
    assert doc["passed"] is True and len(doc["verdicts"]) == len(cf.REQUIREMENTS)
    json.dumps(doc)


def test_timestamps_in_seconds_or_microseconds_are_told_by_their_magnitude() -> None:
    dev = cf.DeviceInfo(uid="m-1", kind="motion", heartbeat_s=60)
    secs = [reading("m-1", "motion", T0 + 5 * k, 1, k + 1, ts=int(T0) + 5 * k) for k in range(3)]
    r = report(dev, secs)
    assert codes(r)["timestamps"] == ("fail", "seconds")
    assert codes(r)["payloads"][0] == "fail"
    assert "epoch seconds" in r.verdict("payloads").sentence("en")   # the ingest's own hint
    assert "seconds" in r.verdict("timestamps").sentence("en")
    micro = [reading("m-1", "motion", T0 + 5, 1, 1, ts=int(T0 * 1e6))]
    assert codes(report(dev, micro))["timestamps"] == ("fail", "micro")
    iso = [obs("m-1", "motion", {"ts": "2025-12-05T10:00:00.000+08:00", "seq": 1, "value": 1},
               1_764_900_000.3)]
    assert codes(report(dev, iso))["timestamps"] == ("pass", "ok")


@pytest.mark.parametrize("offset,level", [(10, "pass"), (-45, "warn"), (-400, "fail"),
                                          (200, "warn")])
def test_the_device_clock_is_judged_by_its_median_offset(offset: float, level: str) -> None:
    dev = cf.DeviceInfo(uid="m-1", kind="motion", heartbeat_s=60)
    msgs = [reading("m-1", "motion", T0 + 5 * k, k % 2, k + 1, lag=-offset) for k in range(5)]
    assert codes(report(dev, msgs))["timestamps"][0] == level


def test_sequence_numbers_missing_zero_repeated_backwards_and_gaps() -> None:
    dev = cf.DeviceInfo(uid="d-1", kind="door", heartbeat_s=60)

    def seqs(values: list[int | None], same_ts: bool = False) -> tuple[str, str]:
        msgs = [reading("d-1", "door", T0 + (1 if same_ts else k + 1), 1 if same_ts else k % 2, s)
                for k, s in enumerate(values)]
        return codes(report(dev, msgs))["seq"]

    assert seqs([None, None, None]) == ("fail", "missing")
    assert seqs([0, 0, 0]) == ("fail", "zero")
    assert seqs([5, 6, 6]) == ("fail", "duplicates")
    assert seqs([5, 9, 7]) == ("fail", "backwards")
    assert seqs([5, 6, 9]) == ("warn", "gaps")
    assert seqs([5, 6, 1, 2]) == ("warn", "restarted")
    assert seqs([5, 6, 7]) == ("pass", "ok")
    assert seqs([5, 5], same_ts=True) == ("pass", "ok")          # a QoS 1 resend
    r = report(dev, [reading("d-1", "door", T0 + 1, 1, None)])
    assert "(no seq)" in r.lines[0].read_as("en")


def test_heartbeat_regularity_against_the_registered_interval() -> None:
    dev = cf.DeviceInfo(uid="b-1", kind="button", heartbeat_s=60)
    regular = [status("b-1", T0 + 1 + 60 * k) for k in range(5)]
    r = report(dev, regular)
    assert codes(r)["heartbeat"] == ("pass", "ok")
    assert r.verdict("heartbeat").fields["median"] == "60"
    assert codes(report(dev, []))["heartbeat"] == ("fail", "none")
    assert codes(report(dev, [], minutes=1))["heartbeat"] == ("warn", "short")
    gap = [status("b-1", T0 + 1), status("b-1", T0 + 250)]
    assert codes(report(dev, gap))["heartbeat"] == ("fail", "missed")
    jumpy = [status("b-1", T0 + t) for t in (1, 20, 110, 130, 230, 290)]
    assert codes(report(dev, jumpy))["heartbeat"] == ("warn", "irregular")
    slow = [status("b-1", T0 + t) for t in (1, 100, 200, 290)]
    assert codes(report(dev, slow))["heartbeat"] == ("warn", "slow")


def test_last_will_seen_retained_or_not_observed() -> None:
    dev = cf.DeviceInfo(uid="b-1", kind="button", heartbeat_s=60)
    seen = report(dev, [status("b-1", T0 + 10, "offline")])
    assert codes(seen)["last_will"] == ("pass", "seen")
    kept = obs("b-1", "status", {"status": "offline"}, T0 + 1, retained=True)
    r = report(dev, [kept])
    assert codes(r)["last_will"] == ("warn", "retained")
    assert codes(r)["payloads"] == ("warn", "retained")
    none = report(dev, [status("b-1", T0 + 10)])
    assert codes(none)["last_will"] == ("warn", "not_observed")
    s = none.verdict("last_will").sentence("en")
    assert "pull its power" in s and "anju/v1/devices/b-1/status" in s
    # The will's ts is as old as the connection: no clock offset is read from it.
    old_will = obs("b-1", "status", {"ts": int((T0 - 3600) * 1000), "status": "offline"}, T0 + 5)
    assert report(dev, [old_will]).lines[0].items[0].offset_s is None


def test_reporting_offset_on_the_minute_or_with_the_whole_fleet() -> None:
    herd = report(WATER, conforming_water(second=0.4))
    assert codes(herd)["report_offset"] == ("fail", "herd")
    stray = report(WATER, conforming_water(second=0.3)
                   + [reading("wm-1", "water", T0 + 400, 110.0, 45)])
    assert codes(stray)["report_offset"] == ("fail", "herd")     # one report off the minute
    late = report(WATER, conforming_water(second=59.6))       # :00 from the other side
    assert codes(late)["report_offset"] == ("fail", "herd")
    fleet = report(WATER, conforming_water(second=23.4), fleet=[23.0, 23.9, 22.8])
    assert codes(fleet)["report_offset"] == ("warn", "fleet")
    few = report(WATER, conforming_water(n=1))
    assert codes(few)["report_offset"] == ("warn", "few")
    dev = cf.DeviceInfo(uid="m-1", kind="motion", heartbeat_s=60)
    assert codes(report(dev, []))["report_offset"] == ("pass", "not_meter")


def test_implausible_units_and_ranges() -> None:
    down = conforming_water()
    down[3] = reading("wm-1", "water", T0 + 83.4, 50.0, 41)
    r = report(WATER, down)
    assert codes(r)["units"] == ("fail", "went_down")
    assert "went down from 100 to 50 L" in r.verdict("units").sentence("en")
    plug = cf.DeviceInfo(uid="p-1", kind="power", heartbeat_s=60)
    kw = [reading("p-1", "power", T0 + 60 * k + 17, v, k + 1)
          for k, v in enumerate([0.18, 1.2, 2.05, 0.0, 1.5])]
    assert codes(report(plug, kw))["units"] == ("warn", "kw")
    watts = [reading("p-1", "power", T0 + 60 * k + 17, v, k + 1)
             for k, v in enumerate([180.0, 1200.5, 2050.0])]
    assert codes(report(plug, watts))["units"] == ("pass", "ok")
    kwh = [reading("p-1", "power", T0 + 60 * k + 17, 1800.0, 2 * k + 1) for k in range(5)] + \
          [reading("p-1", "energy", T0 + 60 * k + 17.1, 500 + 0.03 * k, 2 * k + 2)
           for k in range(5)]
    assert codes(report(plug, kwh))["units"] == ("warn", "kwh")
    pir = cf.DeviceInfo(uid="m-1", kind="motion", heartbeat_s=60)
    hundred = report(pir, [reading("m-1", "motion", T0 + 3, 100, 1)])
    assert codes(hundred)["units"] == ("fail", "refused")
    assert "must be 0 or 1" in hundred.verdict("units").sentence("en")
    m3 = [reading("wm-1", "water", T0 + 60 * k + 23, 12.3451 + 0.0015 * k, k + 1)
          for k in range(4)]
    assert codes(report(WATER, m3))["units"] == ("warn", "m3")


def test_the_report_on_stored_data_says_what_needs_the_live_check() -> None:
    from datetime import datetime, timezone

    def at(s: float) -> datetime:
        return datetime.fromtimestamp(s, timezone.utc)

    rows = [(at(T0 + 60 * k + 22.9), 0, 10.0 + k, 5, at(T0 + 60 * k + 23.1)) for k in range(4)]
    rejected = [(at(T0 + 100), "anju/v1/devices/wm-1/water",
                 b'{"ts": 1764900100, "seq": 3, "value": 12}',
                 "ts 1764900100 is older than the 7 days accepted (epoch seconds? ...)")]
    r = cf.stored_report(WATER, {"online": None, "status_at": None, "tz": "Asia/Shanghai"},
                         rows, rejected, since_us=int(T0 * 1e6), until_us=int((T0 + 300) * 1e6),
                         fleet=[])
    c = codes(r)
    assert c["seq"] == ("fail", "zero")
    assert c["timestamps"] == ("fail", "seconds")
    assert c["payloads"][0] == "fail"
    assert c["heartbeat"] == ("warn", "not_stored")
    assert c["last_will"] == ("warn", "not_stored")
    assert c["report_offset"] == ("pass", "ok")
    refused = [ln.reject for ln in r.lines if ln.reject]
    assert len(refused) == 1 and "epoch seconds" in refused[0]        # the reason as stored
    assert "anju device check" in r.verdict("heartbeat").sentence("zh-CN")


# -- live, through the real broker -----------------------------------------------------------


class Clock:
    """A time source for one check and its device: real time moved by `shift_s`, so a
    meter's reports land at a chosen second of the minute without waiting for it."""

    def __init__(self, shift_s: float = 0.0) -> None:
        self.shift_us = int(shift_s * 1e6)

    def __call__(self) -> int:
        return time.time_ns() // 1000 + self.shift_us

    @classmethod
    def landing(cls, second: float, after_s: float) -> "Clock":
        """A clock on which `after_s` seconds from now falls on `second` of the minute."""
        then = time.time() + after_s
        shift = (second - then % 60) % 60
        return cls(shift - 60 if shift > 30 else shift)


METER_AT_S = 2.0     # meters report this long after the clock is made (around its second)


@dataclass
class Sim:
    """A device publishing for a few seconds: status at connect and every second, readings of
    its kind, a meter's around one moment of its clock; then its power is pulled."""

    stack: Stack
    dev: NewDevice
    clock: Clock
    faults: set[str] = field(default_factory=set)
    seq: int = 500

    def ts(self) -> int:
        ms = self.clock() // 1000
        return ms // 1000 if "ts_seconds" in self.faults else ms

    def doc(self, value: float) -> bytes:
        self.seq += 1
        d: dict[str, Any] = {"ts": self.ts(), "value": value}
        if "no_seq" not in self.faults:
            d["seq"] = self.seq
        return json.dumps(d).encode()

    def values(self) -> list[float]:
        if "kw" in self.faults:
            return [0.18, 1.2, 2.05, 0.9, 1.5]
        if self.dev.kind == "water":
            return [1000.0, 1001.5, 998.0, 1003.0, 1004.5] if "down" in self.faults else \
                [1000.0, 1001.5, 1003.0, 1004.5, 1006.0]
        if self.dev.kind == "power":
            return [180.0, 1200.0, 2050.0, 900.0, 1500.0]
        return [1, 0, 1, 0, 1]

    async def run(self, made_at: float) -> None:
        topic = f"anju/v1/devices/{self.dev.uid}"
        will = None if "no_will" in self.faults else mqtt_async.Will(
            f"{topic}/status", b'{"status":"offline"}')
        host, port = self.stack.device_address()
        c = await mqtt_async.connect(host, port, client_id=self.dev.uid, username=self.dev.uid,
                                     password=self.dev.password, will=will, reconnect=False)
        started = time.monotonic()

        def beat() -> None:
            c.publish(f"{topic}/status", json.dumps(
                {"ts": self.ts(), "status": "online", "battery": 80, "fw": "3.2"}).encode())

        async def at(t: float) -> None:
            await asyncio.sleep(max(0.0, t - (time.monotonic() - started)))

        async def heartbeats() -> None:
            for k in range(1, 4):
                await at(float(k))
                beat()

        async def readings() -> None:
            if self.dev.kind in ("water", "power"):
                # around METER_AT_S after the clock was made: the second it lands on
                first = METER_AT_S - 0.3 - (time.time() - made_at)
                for k, v in enumerate(self.values()):
                    await at(max(0.1, first) + 0.15 * k)
                    c.publish(f"{topic}/{self.dev.kind}", self.doc(v))
            else:
                for k, v in enumerate(self.values()):
                    await at(0.3 + 0.4 * k)
                    c.publish(f"{topic}/{self.dev.kind}", self.doc(v))

        beat()
        await asyncio.gather(heartbeats(), readings())
        await c.wait_inflight_below(0, 5)
        await at(3.3)
        c.abort()            # the power is pulled: no DISCONNECT, the broker sends the will
        await asyncio.sleep(0.3)
        await c.close()


@dataclass
class Fleet:
    stack: Stack
    db_url: str
    mqtt: MqttEndpoint
    devices: dict[str, NewDevice]


FAULTS = {
    "good": ("water", set()),
    "ts_seconds": ("motion", {"ts_seconds"}),
    "no_seq": ("door", {"no_seq"}),
    "no_will": ("button", {"no_will"}),
    "herd": ("water", set()),
    "kw": ("power", {"kw"}),
    "down": ("water", {"down"}),
}


@pytest.fixture(scope="module")
def fleet(stack: Stack, db_url: str) -> Fleet:
    tag = secrets.token_hex(3)
    code = f"h-check-{tag}"
    with psycopg.connect(db_url, autocommit=True) as conn:
        registry.add_home(conn, code=code, community=f"c-check-{tag}", resident="测试")
        devices = {name: registry.add_device(conn, home=code, kind=kind, room="other",
                                             vendor="Acme", model="T-1")
                   for name, (kind, _) in FAULTS.items()}
        # A heartbeat every second, to judge it in a few (provisioning allows 10 s at least).
        conn.execute("UPDATE devices SET heartbeat_s = 1 WHERE id = ANY(%s)",
                     ([d.id for d in devices.values()],))
        sync_broker(stack, conn)
    c = stack.credentials()
    admin = MqttEndpoint("127.0.0.1", c.mqtt_service_port, "anju-admin",
                         c.mqtt_users["anju-admin"])
    return Fleet(stack, db_url, admin, devices)


async def watch(f: Fleet, name: str, clock: Clock, made_at: float,
                seconds: float = 4.6) -> tuple[cf.Report, list[str]]:
    kind, faults = FAULTS[name]
    dev = f.devices[name]
    sim = Sim(f.stack, dev, clock, set(faults))
    ready = asyncio.Event()
    lines: list[str] = []
    check = asyncio.create_task(run_check(f.db_url, f.mqtt, dev.uid, seconds, emit=lines.append,
                                          ready=ready, clock=clock))
    await asyncio.wait_for(ready.wait(), 10)
    await sim.run(made_at)
    return await check, lines


async def test_live_checks_pass_a_conforming_device_and_name_each_fault(fleet: Fleet) -> None:
    made_at = time.time()
    second = round(random.uniform(10, 50), 1)
    clocks = {name: Clock.landing(0.2 if name == "herd" else second, METER_AT_S)
              for name in FAULTS}
    results = await asyncio.gather(*(watch(fleet, n, clocks[n], made_at) for n in FAULTS))
    reports = {n: r for n, (r, _) in zip(FAULTS, results)}
    lines = {n: ln for n, (_, ln) in zip(FAULTS, results)}
    got = {n: codes(r) for n, r in reports.items()}

    good = reports["good"]
    assert not good.failed, good.summary("en")
    assert got["good"]["last_will"] == ("pass", "seen")
    assert got["good"]["seq"] == ("pass", "ok")
    assert got["good"]["timestamps"] == ("pass", "ok")
    # a busy machine may delay a beat by a few hundred ms: irregular at worst, never missed
    assert got["good"]["heartbeat"] in (("pass", "ok"), ("warn", "irregular")), good.summary("en")
    assert got["good"]["report_offset"][0] in ("pass", "warn")    # warn: a fleet on its second
    assert abs(float(good.verdict("report_offset").fields["second"]) - second) < 1.5
    assert good.counts()["readings"] == 5 and good.device.firmware == "3.2"
    assert any("water=1001.5 L (cumulative) #" in ln for ln in lines["good"])

    def named(name: str, requirement: str, level: str, code: str, word: str) -> None:
        r = reports[name]
        assert got[name][requirement] == (level, code), (name, r.summary("en"))
        assert word in r.summary("en"), (name, r.summary("en"))
        if level == "fail":
            assert r.failed

    named("ts_seconds", "timestamps", "fail", "seconds", "epoch seconds")
    assert any("rejected:" in ln and "epoch seconds" in ln for ln in lines["ts_seconds"])
    named("no_seq", "seq", "fail", "missing", "have no seq")
    assert any("(no seq)" in ln for ln in lines["no_seq"])
    named("no_will", "last_will", "warn", "not_observed", "Not observed")
    named("herd", "report_offset", "fail", "herd", "on the minute")
    named("kw", "units", "warn", "kw", "looks like kW")
    named("down", "units", "fail", "went_down", "went down from 1001.5 to 998")
    # each faulty device is otherwise conforming: only its fault is reported
    for name in ("ts_seconds", "no_seq", "herd", "kw", "down"):
        assert got[name]["last_will"] == ("pass", "seen"), name
    for name in ("no_seq", "no_will", "herd", "kw", "down"):
        assert got[name]["timestamps"] == ("pass", "ok"), (name, reports[name].summary("en"))


def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANJU_STATE_DIR": str(stack.state_dir), "ANJU_LANG": "en"}
    for var in ("ANJU_DATABASE_URL", "ANJU_MQTT_URL", "ANJU_CONFIG"):
        env.pop(var, None)
    return subprocess.run([sys.executable, "-m", "anju.cli", "device", "check", *args],
                          capture_output=True, text=True, env=env, timeout=60)


def test_the_command_exits_1_on_a_failing_device_and_2_on_a_bad_argument(fleet: Fleet) -> None:
    r = _cli(fleet.stack, "no-such-device-zz", "--minutes", "0.01")
    assert r.returncode == 2 and "No device no-such-device-zz is registered" in r.stderr
    r = _cli(fleet.stack, fleet.devices["no_will"].uid, "--minutes", "abc")
    assert r.returncode == 2 and "expected minutes" in r.stderr
    # nothing published in the window: the payload requirement fails (exit 1), JSON on stdout
    r = _cli(fleet.stack, fleet.devices["no_will"].uid, "--minutes", "0.03", "--json")
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    assert doc["passed"] is False and doc["device"]["uid"] == fleet.devices["no_will"].uid
    assert {v["requirement"]: v["code"] for v in doc["verdicts"]}["payloads"] == "nothing"
    assert "Watching" in r.stderr and "Conformance report" in r.stderr


# -- the console ----------------------------------------------------------------------------


async def test_the_device_page_shows_the_stored_report_to_admins_only(
        console: ServerThread, world: World, stack: Stack, endpoints: Endpoints,
        conn: psycopg.Connection) -> None:
    dev = registry.add_device(conn, home=world.home_code["A1"], kind="water", room="kitchen",
                              vendor="Acme", model="WM-9")
    sync_broker(stack, conn)
    async with running_worker(endpoints):
        host, port = stack.device_address()
        c = await mqtt_async.connect(host, port, client_id=dev.uid, username=dev.uid,
                                     password=dev.password)
        now_ms = time.time_ns() // 1_000_000
        topic = f"anju/v1/devices/{dev.uid}/water"
        for k in range(3):      # no seq: stored with seq 0
            c.publish(topic, json.dumps({"ts": now_ms - 3000 + k * 1000, "value": 10 + k}).encode())
        c.publish(topic, json.dumps({"ts": now_ms // 1000, "seq": 4, "value": 14}).encode())
        await c.wait_inflight_below(0, 5)
        await c.close()

        def stored() -> bool:
            n = conn.execute("SELECT (SELECT count(*) FROM readings WHERE device_id = %s)"
                             " + (SELECT count(*) FROM rejected_messages WHERE device_uid = %s)",
                             (dev.id, dev.uid)).fetchone()
            return bool(n and n[0] >= 4)

        await wait_until(stored, 20)

    admin = sign_in(console.url, world.users["admin"])
    home = admin.get(f"/homes/{world.home['A1']}")
    assert f'href="/devices/{dev.id}"' in home.text          # the link on the device's row
    r = admin.get(f"/devices/{dev.id}?minutes=10")
    assert r.status_code == 200
    page = r.text
    assert dev.uid in page and "设备检测" in page               # zh-CN by default
    assert 'data-requirement="seq" data-level="fail" data-code="zero"' in page
    assert 'data-requirement="timestamps" data-level="fail" data-code="seconds"' in page
    assert 'data-requirement="heartbeat" data-level="warn" data-code="not_stored"' in page
    assert "状态消息不入库" in page and f"anju device check {dev.uid}" in page
    assert "WM-9" in page                                       # the vendor's summary
    bad = admin.get(f"/devices/{dev.id}?minutes=0")
    assert bad.status_code == 422
    for who in ("opA", "propA1", "famA2"):
        other = sign_in(console.url, world.users[who])
        assert other.get(f"/devices/{dev.id}").status_code in (403, 404), who
        assert f'href="/devices/{dev.id}"' not in other.get(f"/homes/{world.home['A1']}").text
    assert admin.get("/devices/999999999").status_code == 404
    assert isinstance(admin, httpx.Client)


def test_the_device_page_fits_a_phone(console: ServerThread, world: World,
                                      conn: psycopg.Connection) -> None:
    """At 390 px the verdicts, the vendor's summary and a long refused payload wrap."""
    import shutil

    from tests.console_world import ARGS, CHROMIUM, PASSWORD
    from tests.layout_support import assert_fits

    if shutil.which(CHROMIUM) is None:
        pytest.skip("no Debian chromium")
    from playwright.sync_api import sync_playwright

    dev = registry.add_device(conn, home=world.home_code["A1"], kind="power", room="kitchen",
                              vendor="某某智能科技有限公司", model="PLUG-2000-PRO-MAX")
    now = time.time()
    for k in range(5):
        conn.execute("INSERT INTO readings (ts, seq, value, device_id, kind, received_at)"
                     " VALUES (to_timestamp(%s), %s, %s, %s, 6, to_timestamp(%s))",
                     (now - 300 + 60 * k, k + 1, 0.5 + k / 10, dev.id, now - 299.8 + 60 * k))
    conn.execute("INSERT INTO rejected_messages (topic, payload, reason, device_uid)"
                 " VALUES (%s, %s, %s, %s)",
                 (f"anju/v1/devices/{dev.uid}/power", b'{"ts":1764900000,"value":"' +
                  b"x" * 300 + b'"}', "payload does not match the contract: Expected `number`,"
                  " got `str` - at `$.value`", dev.uid))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            ctx = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
            page = ctx.new_page()
            page.set_default_timeout(8000)
            page.goto(console.url + "/login")
            page.fill("input[name=username]", world.users["admin"])
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit].primary")
            page.wait_for_url("**/board")
            for width, height in ((390, 844), (1366, 768)):
                page.set_viewport_size({"width": width, "height": height})
                r = page.goto(f"{console.url}/devices/{dev.id}?minutes=30")
                assert r is not None and r.status == 200
                assert_fits(page)
                assert page.locator("pre.summary").count() == 1
        finally:
            browser.close()
