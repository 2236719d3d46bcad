"""`anju contract test` against the real broker: a simulated device on the bench reacts to
each step's `STEP n name expectation` line as a person would to the instruction; a
conforming one passes every step, a faulty one fails the step its fault shows in, named."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from anju import cli as anju_cli
from anju import i18n, mqtt_async, registry
from anju.embedded import Stack
from anju.registry import NewDevice
from ingest import bench
from ingest.bench import Options, Report, run_bench
from tests.conftest import sync_broker

pytestmark = pytest.mark.timeout(60)


@dataclass
class Bench:
    """The devices on the bench: one of each kind the tests walk through."""

    stack: Stack
    devices: dict[str, NewDevice]
    gateway: NewDevice
    behind: NewDevice            # a door behind the gateway, named "front"


@pytest.fixture(scope="module")
def bench_devices(stack: Stack, db_url: str) -> Bench:
    tag = secrets.token_hex(3)
    code = f"h-bench-{tag}"
    with psycopg.connect(db_url, autocommit=True) as conn:
        registry.add_home(conn, code=code, community=f"c-bench-{tag}", resident="测试")
        devices = {k: registry.add_device(conn, home=code, kind=k, room="other")
                   for k in ("button", "door", "water", "power", "temperature", "leak")}
        gw = registry.add_device(conn, home=code, kind="gateway", room="hallway")
        behind = registry.add_device(conn, home=code, kind="door", room="entrance",
                                     gateway=gw.uid, external_name="front")
        sync_broker(stack, conn)
    return Bench(stack, devices, gw, behind)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class SimDevice:
    """A device on the bench, doing what each step's instruction says (or, with faults,
    what a faulty firmware does instead)."""

    stack: Stack
    dev: NewDevice
    faults: set[str] = field(default_factory=set)
    via: tuple[NewDevice, str] | None = None      # (gateway, name) for a device behind one
    seq: int = 100
    total: float = 1234.5                         # water litres / energy Wh
    client: mqtt_async.Client | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def topic(self, leaf: str) -> str:
        if self.via:
            return f"anju/v1/gateways/{self.via[0].uid}/{self.via[1]}/{leaf}"
        return f"anju/v1/devices/{self.dev.uid}/{leaf}"

    def ts(self) -> int:
        ms = now_ms() + (120_000 if "clock_ahead" in self.faults else 0)
        return ms // 1000 if "ts_seconds" in self.faults else ms

    def reading(self, leaf: str, value: object) -> None:
        self.seq += 1
        doc: dict[str, object] = {"ts": self.ts(), "value": value}
        if "no_seq" not in self.faults:
            doc["seq"] = 0 if "seq_zero" in self.faults else self.seq
        assert self.client
        self.client.publish(self.topic(leaf), json.dumps(doc).encode())

    def batch(self, items: list[tuple[str, float]]) -> None:
        self.seq += 1
        assert self.client
        self.client.publish(self.topic("batch"), json.dumps({"readings": [
            {"kind": k, "ts": self.ts(), "seq": self.seq, "value": v} for k, v in items]}).encode())

    def on_line(self, line: str) -> None:
        """The bench's emit: a STEP line sets the device to work."""
        m = re.match(r"STEP (\d+) (\w+) (\S+)$", line)
        if m:
            self.tasks.append(asyncio.create_task(self.act(m[2], m[3])))

    async def act(self, step: str, expect: str) -> None:
        if f"silent:{step}" in self.faults:
            return
        if step == "connect":
            who = self.via[0] if self.via else self.dev
            will = None if "no_will" in self.faults else mqtt_async.Will(
                self.topic("status"), b'{"status":"offline"}')
            host, port = self.stack.device_address()
            self.client = await mqtt_async.connect(host, port, client_id=who.uid,
                                                   username=who.uid, password=who.password,
                                                   will=will, reconnect=False)
            self.client.publish(self.topic("status"), json.dumps(
                {"ts": self.ts(), "status": "online", "battery": 90, "fw": "1.0"}).encode())
        elif step == "press":
            self.reading("button", 1)
        elif step == "open_close":
            leaf = expect.split("=")[0]
            opened: object = 2 if "door_2" in self.faults else \
                "open" if "door_word" in self.faults else 1
            first, then = (0, opened) if "reversed" in self.faults else (opened, 0)
            self.reading(leaf, first)
            await asyncio.sleep(0.05)
            self.reading(leaf, then)
        elif step in ("wet", "dry"):
            self.reading("leak", 1 if step == "wet" else 0)
        elif step == "baseline":
            self.reading("water", self.total)
        elif step == "run_water":
            self.total += 1500 if "millilitres" in self.faults else 1.5
            self.reading("water", self.total)
        elif step in ("report", "report_again") and expect.startswith("temperature"):
            self.reading("temperature", 70.7 if "fahrenheit" in self.faults else 21.5)
        elif step in ("report", "report_again"):
            self.total += -10 if "energy_down" in self.faults and step == "report_again" else 3
            self.batch([("power", 180.0), ("energy", self.total)])
        elif step == "unplug":
            assert self.client
            self.client.abort()     # no DISCONNECT: the broker publishes the will

    async def close(self) -> None:
        for t in self.tasks:
            await t
        if self.client is not None:
            await self.client.close()


def admin_options(stack: Stack, uid: str, kind: str, **kw: object) -> Options:
    c = stack.credentials()
    kw.setdefault("script", bench.DEFAULT_SCRIPT[kind])
    kw.setdefault("yes", True)
    return Options(host="127.0.0.1", port=c.mqtt_service_port, username="anju-admin",
                   password=c.mqtt_users["anju-admin"], device=uid, kind=kind, **kw)  # type: ignore[arg-type]


async def walk(b: Bench, kind: str, faults: set[str] = frozenset(),  # type: ignore[assignment]
               timeout: float = 3.0, lang: str = "en", **kw: object) -> tuple[Report, list[str]]:
    dev = b.devices[kind]
    sim = SimDevice(b.stack, dev, set(faults))
    lines: list[str] = []

    def emit(line: str) -> None:
        lines.append(line)
        sim.on_line(line)

    try:
        report = await run_bench(admin_options(b.stack, dev.uid, kind, step_timeout=timeout,
                                               **kw), lang=lang, emit=emit)
    finally:
        await sim.close()
    return report, lines


def verdicts(report: Report) -> dict[str, str | None]:
    """step name -> None when it passed, else its failure code."""
    return {s.name: None if s.passed else s.code for s in report.steps}


# -- a conforming device ----------------------------------------------------------------


@pytest.mark.parametrize("kind,steps", [
    ("button", ["connect", "press", "unplug"]),
    ("door", ["connect", "open_close", "unplug"]),
    ("water", ["connect", "baseline", "run_water", "unplug"]),
    ("power", ["connect", "report", "report_again", "unplug"]),
    ("temperature", ["connect", "report", "unplug"]),
    ("leak", ["connect", "wet", "dry", "unplug"]),
])
async def test_a_conforming_device_passes_every_step(bench_devices: Bench, kind: str,
                                                     steps: list[str]) -> None:
    report, lines = await walk(bench_devices, kind)
    assert [s.name for s in report.steps] == steps
    assert verdicts(report) == {s: None for s in steps}, [s.reason for s in report.steps]
    assert report.passed
    # each step waited for what its STEP line said, and saw the message the device sent
    step_lines = [ln for ln in lines if ln.startswith("STEP ")]
    assert [ln.split()[2] for ln in step_lines] == steps
    assert all(s.messages for s in report.steps)
    assert report.steps[-1].messages[-1]["payload"] == '{"status":"offline"}'
    assert "All {} steps passed".format(len(steps)) in "\n".join(bench.render(report, "en"))


async def test_the_script_speaks_chinese_and_the_meter_gets_its_interval(
        bench_devices: Bench) -> None:
    report, lines = await walk(bench_devices, "power", lang="zh-CN")
    text = "\n".join(lines)
    assert "第 2 步（共 4 步）：让设备一直开着，等它下一次定时上报。" in text
    assert "拔掉设备电源" in text and "通过（" in text
    assert report.passed
    again = report.steps[2]
    assert again.notes and re.search(r"(power|energy) 隔了 \d+ 秒再次上报", again.notes[0])


async def test_a_device_behind_a_gateway_is_heard_on_the_gateway_topics(
        bench_devices: Bench) -> None:
    b = bench_devices
    sim = SimDevice(b.stack, b.behind, via=(b.gateway, "front"))
    lines: list[str] = []
    opts = admin_options(b.stack, b.behind.uid, "door", gateway=b.gateway.uid,
                         external_name="front", step_timeout=3.0)

    def emit(line: str) -> None:
        lines.append(line)
        sim.on_line(line)

    try:
        report = await run_bench(opts, emit=emit)
    finally:
        await sim.close()
    assert verdicts(report) == {"connect": None, "open_close": None, "unplug": None}
    assert report.steps[1].messages[0]["topic"] == \
        f"anju/v1/gateways/{b.gateway.uid}/front/door"


async def test_without_yes_each_step_waits_for_enter(bench_devices: Bench) -> None:
    """A person at the bench: the step starts (and its messages count) after Enter."""
    b = bench_devices
    dev = b.devices["button"]
    sim = SimDevice(b.stack, dev)
    order: list[str] = []
    names = iter(["connect", "press", "unplug"])

    async def enter() -> None:
        # the person presses Enter, then does the thing a moment later
        step = next(names)
        order.append(f"enter {step}")

        async def later() -> None:
            await asyncio.sleep(0.1)
            await sim.act(step, "button=1")
        sim.tasks.append(asyncio.create_task(later()))

    opts = admin_options(b.stack, dev.uid, "button", step_timeout=3.0, yes=False)
    lines: list[str] = []
    try:
        report = await run_bench(opts, emit=lines.append, enter=enter)
    finally:
        await sim.close()
    assert order == ["enter connect", "enter press", "enter unplug"]
    assert not any(ln.startswith("STEP") for ln in lines)
    assert sum("Press Enter" in ln for ln in lines) == 3
    assert report.passed, [s.reason for s in report.steps]


# -- faulty devices ----------------------------------------------------------------------


async def test_timestamps_in_seconds_are_rejected_with_the_ingests_reason(
        bench_devices: Bench) -> None:
    report, _ = await walk(bench_devices, "button", {"ts_seconds"})
    assert verdicts(report) == {"connect": "rejected", "press": "rejected", "unplug": None}
    press = report.steps[1]
    assert "would reject" in (press.reason or "")
    assert "epoch seconds? the contract wants milliseconds" in (press.reason or "")
    assert "rejected: ts" in str(press.messages[0]["verdict"])


async def test_a_clock_two_minutes_ahead_is_accepted_by_the_ingest_but_fails_here(
        bench_devices: Bench) -> None:
    report, _ = await walk(bench_devices, "button", {"clock_ahead"})
    assert verdicts(report)["press"] == "clock"
    assert "+120 s from the arrival time" in (report.steps[1].reason or "")


async def test_a_missing_seq_is_named(bench_devices: Bench) -> None:
    report, _ = await walk(bench_devices, "door", {"no_seq"})
    assert verdicts(report)["open_close"] == "seq_missing"
    assert "has no seq" in (report.steps[1].reason or "")


async def test_a_constant_seq_is_named(bench_devices: Bench) -> None:
    report, _ = await walk(bench_devices, "door", {"seq_zero"})
    assert verdicts(report)["open_close"] == "seq_not_increasing"
    assert "seq 0 after 0 for door" in (report.steps[1].reason or "")


@pytest.mark.parametrize("fault,reason", [
    ("door_2", "value 2.0 for door must be 0 or 1"),
    ("door_word", "payload does not match the contract"),
])
async def test_a_door_value_outside_the_contract_is_rejected(bench_devices: Bench, fault: str,
                                                              reason: str) -> None:
    report, _ = await walk(bench_devices, "door", {fault})
    assert verdicts(report) == {"connect": None, "open_close": "rejected", "unplug": None}
    assert reason in (report.steps[1].reason or "")


async def test_door_closed_before_it_opened_is_the_wrong_order(bench_devices: Bench) -> None:
    report, _ = await walk(bench_devices, "door", {"reversed"})
    assert verdicts(report)["open_close"] == "wrong_order"
    assert "door 0 came before door 1" in (report.steps[1].reason or "")


async def test_no_last_will_and_a_silent_step_are_named(bench_devices: Bench) -> None:
    report, _ = await walk(bench_devices, "button", {"no_will", "silent:press"}, timeout=1.0)
    assert verdicts(report) == {"connect": None, "press": "timeout", "unplug": "no_will"}
    assert "nothing arrived within 1 s" in (report.steps[1].reason or "")
    assert "no last will" in (report.steps[2].reason or "")
    assert not report.passed


async def test_a_wrong_unit_shows_as_an_implausible_amount(bench_devices: Bench) -> None:
    report, _ = await walk(bench_devices, "water", {"millilitres"})
    assert verdicts(report)["run_water"] == "implausible"
    assert "rose by 1500 L" in (report.steps[2].reason or "")
    report, _ = await walk(bench_devices, "temperature", {"fahrenheit"})
    assert verdicts(report)["report"] == "implausible"


async def test_a_cumulative_total_that_goes_down_is_named(bench_devices: Bench) -> None:
    report, _ = await walk(bench_devices, "power", {"energy_down"})
    assert verdicts(report)["report_again"] == "went_down"


# -- the command ---------------------------------------------------------------------------


def _env(stack: Stack, lang: str = "en") -> dict[str, str]:
    env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir), ANJU_LANG=lang)
    for k in ("ANJU_DATABASE_URL", "ANJU_MQTT_URL", "ANJU_CONFIG"):
        env.pop(k, None)
    return env


async def _run_cli(b: Bench, kind: str, faults: set[str], *extra: str) -> tuple[int, str, str]:
    """`anju contract test --yes --json` as a process; the simulated device reads its STEP
    lines (stderr with --json: stdout holds the JSON alone)."""
    dev = b.devices[kind]
    c = b.stack.credentials()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "anju.cli", "contract", "test",
        "--broker", f"mqtt://127.0.0.1:{c.mqtt_service_port}", "--username", "anju-admin",
        "--password", c.mqtt_users["anju-admin"], "--device", dev.uid, "--kind", kind,
        "--step-timeout", "2", "--yes", "--json", *extra,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(b.stack))
    sim = SimDevice(b.stack, dev, faults)
    err: list[str] = []
    assert proc.stderr and proc.stdout
    try:
        async for raw in proc.stderr:
            line = raw.decode().rstrip("\n")
            err.append(line)
            sim.on_line(line)
        out = (await proc.stdout.read()).decode()
        rc = await asyncio.wait_for(proc.wait(), 20)
    finally:
        await sim.close()
    return rc, out, "\n".join(err)


async def test_the_command_exits_0_for_a_conforming_device_and_1_for_a_faulty_one(
        bench_devices: Bench) -> None:
    rc, out, err = await _run_cli(bench_devices, "door", set())
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["passed"] is True and [s["name"] for s in doc["steps"]] == \
        ["connect", "open_close", "unplug"]
    assert "Open the entrance door, then close it again." in err

    rc, out, err = await _run_cli(bench_devices, "door", {"door_2"})
    assert rc == 1, err
    doc = json.loads(out)
    [bad] = [s for s in doc["steps"] if not s["passed"]]
    assert bad["name"] == "open_close" and bad["code"] == "rejected"
    assert "must be 0 or 1" in bad["reason"]


def _main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        rc = anju_cli.main(argv)
    except SystemExit as e:
        rc = int(e.code or 0)
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("url", ["http://127.0.0.1:1883", "127.0.0.1:1883", "mqtt://",
                                 "mqtt://host:notaport", "mqtt://host:1883/topic"])
def test_a_bad_broker_url_says_what_was_expected(url: str, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANJU_LANG", "en")
    rc, err = _main(["contract", "test", "--broker", url, "--device", "d1", "--kind", "door"],
                    capsys)
    assert rc == 2
    assert "expected mqtt://HOST:PORT | mqtts://HOST:PORT" in err and url in err


def test_bad_arguments_exit_2(bench_devices: Bench, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANJU_LANG", "zh-CN")
    b = bench_devices
    base = ["contract", "test", "--broker", "mqtt://127.0.0.1:1883", "--device", "d1"]
    rc, err = _main(base + ["--kind", "button", "--script", "water"], capsys)
    assert rc == 2 and "脚本 water 要等 water 读数，而 button 设备不能发这种读数" in err
    rc, err = _main(base + ["--kind", "button", "--step-timeout", "0"], capsys)
    assert rc == 2 and "不超过 3600 的秒数" in err
    # a device's own credentials may not subscribe: the tool says whom to connect as
    dev = b.devices["button"]
    host, port = b.stack.device_address()
    monkeypatch.setenv("ANJU_STATE_DIR", str(b.stack.state_dir))
    rc, err = _main(["contract", "test", "--broker", f"mqtt://{host}:{port}", "--username",
                     dev.uid, f"--password={dev.password or ''}", "--device", dev.uid, "--kind",
                     "button", "--yes", "--step-timeout", "1"], capsys)
    assert rc == 2 and "无法经由" in err and "anju-admin" in err


def test_every_key_the_bench_builds_is_in_both_languages() -> None:
    """Instruction keys are built from the script (the catalog test sees literal keys only)."""
    keys = {s.instruction for script in bench.SCRIPTS for kind in bench.DEFAULT_SCRIPT
            for s in bench.script_steps(script, kind)}
    keys |= {"bench.expect.increase", "bench.expect.range"}
    # and every key the module names (through its own t(), which the catalog test does not
    # read)
    keys |= set(re.findall(r'"(bench\.[a-z_.]+[a-z])"', Path(bench.__file__).read_text()))
    assert {"bench.do.open_close_contact", "bench.do.alarm_gas", "bench.why.no_will",
            "bench.header", "bench.why.went_down"} <= keys
    missing = [(lang, k) for k in sorted(keys) for lang in i18n.LANGS if not i18n.has(lang, k)]
    assert missing == []


def test_a_device_password_never_reads_as_an_option(monkeypatch: pytest.MonkeyPatch) -> None:
    """A generated password is pasted into command lines: one beginning with "-" is an option
    there (token_urlsafe gives one in 64)."""
    from anju import broker
    draws = iter(["-leading-dash", "--two", "fine-one"])
    monkeypatch.setattr(broker.secrets, "token_urlsafe", lambda n: next(draws))
    assert broker.new_password() == "fine-one"
