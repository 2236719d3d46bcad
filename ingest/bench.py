"""`anju contract test`: a vendor's bench check of one device against the device contract.

The tool is the device's counterpart: it subscribes to the device's topics (as a service
identity on anju's broker, or as any user on a vendor's own bench broker) and walks the
person at the bench through a script chosen by the device's kind — switch it on, press
the button, open the door, run the water, unplug it — waiting after each instruction for
the message the contract says must follow. Every message is judged by the ingest's own
decoder (ingest.decode.decode with the ingest's Limits), so a step fails with the very
reason the ingest would quarantine the message for; on top of that the step's own
expectation is checked: the value, the order, the time it took, the device clock (ts
within 30 s of arrival) and an increasing seq.

With --yes no one presses Enter, and each step announces itself on a line of its own,
`STEP <n> <name> <expectation>`, which automation (and the tests' simulated devices)
reacts to. docs/contract-test.md is the vendor's page.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import secrets
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Awaitable, Callable, Literal, NoReturn
from urllib.parse import urlsplit

import msgspec

from anju.contract import DEVICE_KINDS, KIND_BY_LABEL, SPECS, Kind
from anju.i18n import text
from anju.settings import Settings
from anju.typed_config import cli_lang
from ingest.message import DeviceRef, Limits, device_ref

if TYPE_CHECKING:
    # loaded when a test runs, not by every `anju` command that builds the parser
    from anju import mqtt_async

CLOCK_TOLERANCE_S = 30
DEFAULT_STEP_TIMEOUT_S = 75.0   # a meter reporting every minute, plus a little
WATER_RUN_S = 10
# Running a tap for WATER_RUN_S: a trickle (~1 L/min) to a full bath tap (~25 L/min).
# Outside this band the unit is wrong (mL or m³ give a thousand times more or less).
WATER_PLAUSIBLE_L = (0.1, 5.0)
# Indoor air; a value outside it is nearly always tenths of a degree or Fahrenheit.
ROOM_TEMPERATURE_C = (0.0, 45.0)

Mode = Literal["equals", "any", "increase", "range"]


# -- scripts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """One message a step waits for: `leaves` are topic leaves (kind labels or "status")."""

    leaves: tuple[str, ...]
    mode: Mode = "any"
    value: float | str | None = None          # equals: 1.0 / 0.0, or "online" / "offline"
    low: float | None = None                  # increase / range
    high: float | None = None

    def token(self) -> str:
        """The machine-readable form, for the STEP line: door=1, water+0.1..5, power|energy."""
        leaf = "|".join(self.leaves)
        if self.mode == "equals":
            v = self.value
            return f"{leaf}={v:g}" if isinstance(v, float) else f"{leaf}={v}"
        if self.mode == "increase":
            return f"{leaf}+{self.low:g}..{self.high:g}"
        if self.mode == "range":
            return f"{leaf}:{self.low:g}..{self.high:g}"
        return leaf


@dataclass(frozen=True)
class Step:
    name: str                       # stable, machine-readable (STEP line, JSON)
    instruction: str                # catalog key of what the person does
    expects: tuple[Expect, ...]
    action_s: float = 0             # how long the action itself takes (added to the timeout)
    fields: tuple[tuple[str, object], ...] = ()


SCRIPTS = ("button", "door", "motion", "presence", "alarm", "leak", "water", "meter",
           "temperature", "heartbeat")

# The script a kind of device gets unless --script says otherwise.
DEFAULT_SCRIPT = {
    "button": "button", "door": "door", "contact": "door", "motion": "motion",
    "presence": "presence", "smoke": "alarm", "gas": "alarm", "leak": "leak",
    "water": "water", "power": "meter", "energy": "meter", "temperature": "temperature",
    "gateway": "heartbeat",
}


def _eq(leaf: str, value: float | str) -> Expect:
    return Expect((leaf,), "equals", float(value) if not isinstance(value, str) else value)


def _binary_leaf(kind: str, script: str) -> str:
    """The reading a binary script expects from this kind of device."""
    own = sorted(k.label for k in DEVICE_KINDS.get(kind, frozenset()) if SPECS[k].binary)
    wanted = {"button": ["button"], "door": ["door", "contact"], "motion": ["motion"],
              "presence": ["presence"], "alarm": ["smoke", "gas"], "leak": ["leak"]}[script]
    for leaf in wanted:
        if leaf in own:
            return leaf
    return wanted[0]


def script_steps(script: str, kind: str) -> list[Step]:
    """The steps of `script` for a device of `kind`: switch on, the kind's actions, unplug."""
    steps = [Step("connect", "bench.do.connect", (_eq("status", "online"),))]
    if script in ("button", "door", "motion", "presence", "alarm", "leak"):
        leaf = _binary_leaf(kind, script)
        if script == "button":
            steps.append(Step("press", "bench.do.press", (_eq(leaf, 1),)))
        elif script == "door":
            steps.append(Step("open_close", f"bench.do.open_close_{leaf}",
                              (_eq(leaf, 1), _eq(leaf, 0))))
        elif script == "motion":
            steps.append(Step("walk", "bench.do.walk", (_eq(leaf, 1),)))
        elif script == "presence":
            steps.append(Step("occupy", "bench.do.occupy", (_eq(leaf, 1), _eq(leaf, 0))))
        elif script == "alarm":
            steps.append(Step("alarm_test", f"bench.do.alarm_{leaf}", (_eq(leaf, 1), _eq(leaf, 0))))
        else:
            steps.append(Step("wet", "bench.do.wet", (_eq(leaf, 1),)))
            steps.append(Step("dry", "bench.do.dry", (_eq(leaf, 0),)))
    elif script == "water":
        steps.append(Step("baseline", "bench.do.baseline", (Expect(("water",)),)))
        steps.append(Step("run_water", "bench.do.run_water",
                          (Expect(("water",), "increase", low=WATER_PLAUSIBLE_L[0],
                                  high=WATER_PLAUSIBLE_L[1]),),
                          action_s=WATER_RUN_S, fields=(("seconds", WATER_RUN_S),)))
    elif script == "meter":
        leaves = tuple(sorted(k.label for k in DEVICE_KINDS.get(kind, frozenset())
                              if k in (Kind.POWER, Kind.ENERGY))) or ("power", "energy")
        steps.append(Step("report", "bench.do.report", (Expect(leaves),)))
        steps.append(Step("report_again", "bench.do.report_again", (Expect(leaves),)))
    elif script == "temperature":
        steps.append(Step("report", "bench.do.report",
                          (Expect(("temperature",), "range", low=ROOM_TEMPERATURE_C[0],
                                  high=ROOM_TEMPERATURE_C[1]),)))
    steps.append(Step("unplug", "bench.do.unplug", (_eq("status", "offline"),)))
    return steps


def script_problem(script: str, kind: str, lang: str) -> str | None:
    """Why `script` cannot run on a `kind` device (it would wait for readings the device
    may not send), or None."""
    allowed = {k.label for k in DEVICE_KINDS[kind]} | {"status"}
    for step in script_steps(script, kind):
        for e in step.expects:
            if not set(e.leaves) & allowed:
                return text(lang, "bench.bad_script", script=script, kind=kind,
                            leaf="/".join(e.leaves))
    return None


# -- results -----------------------------------------------------------------------------


@dataclass
class StepResult:
    n: int
    name: str
    instruction: str
    expect: str
    passed: bool = False
    code: str | None = None         # why it failed: timeout, no_will, rejected, wrong_value ...
    reason: str | None = None       # the same in the reader's words
    seconds: float = 0.0
    messages: list[dict[str, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Report:
    device: str
    kind: str
    script: str
    broker: str
    steps: list[StepResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(s.passed for s in self.steps)

    def as_json(self) -> dict[str, object]:
        d = asdict(self)
        d["passed"] = self.passed
        return d


class Failed(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


# -- the bench ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    host: str
    port: int
    username: str | None
    password: str | None
    device: str
    kind: str
    script: str
    tls: bool = False
    gateway: str | None = None
    external_name: str | None = None
    step_timeout: float = DEFAULT_STEP_TIMEOUT_S
    yes: bool = False
    limits: Limits = Limits()

    @property
    def broker(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def topics(self) -> list[str]:
        t = [f"anju/v1/devices/{self.device}/#"]
        if self.gateway:
            t.append(f"anju/v1/gateways/{self.gateway}/{self.external_name or self.device}/#")
        return t


class _OneDevice:
    """The ingest's Registry, holding only the device on the bench."""

    def __init__(self, dev: DeviceRef, gateway: str | None, name: str | None) -> None:
        self.dev, self.gateway, self.name = dev, gateway, name

    def device(self, uid: str) -> DeviceRef | None:
        return self.dev if uid == self.dev.uid else None

    def behind_gateway(self, gateway_uid: str, name: str) -> DeviceRef | None:
        return self.dev if (gateway_uid, name) == (self.gateway, self.name) else None


@dataclass
class _Item:
    """One thing a message said: a reading (kind label, value, ts, seq) or a status."""

    leaf: str
    value: float | str
    ts_us: int | None
    seq: int | None = None
    has_seq: bool = True


def _now_us() -> int:
    return time.time_ns() // 1000


def shown(payload: bytes, limit: int = 200) -> str:
    t = payload[:limit].decode("utf-8", "backslashreplace")
    return t + ("…" if len(payload) > limit else "")


def _seq_present(payload: bytes, leaf: str) -> list[bool]:
    """Whether each reading of the payload names its seq (the decoder defaults it to 0)."""
    try:
        doc = msgspec.json.decode(payload)
    except msgspec.DecodeError:
        return []
    if leaf == "batch" and isinstance(doc, dict) and isinstance(doc.get("readings"), list):
        return [isinstance(r, dict) and "seq" in r for r in doc["readings"]]
    return [isinstance(doc, dict) and "seq" in doc]


Emit = Callable[[str], None]
Enter = Callable[[], Awaitable[None]]


class Bench:
    def __init__(self, opts: Options, lang: str, emit: Emit, enter: Enter | None = None) -> None:
        self.o, self.lang, self.emit, self.enter = opts, lang, emit, enter
        name = opts.external_name or opts.device if opts.gateway else None
        self.registry = _OneDevice(device_ref(0, opts.device, 0, opts.kind), opts.gateway, name)
        self.inbox: asyncio.Queue[tuple[mqtt_async.Message, int]] = asyncio.Queue()
        self.last_seq: dict[str, tuple[int, int, float]] = {}   # kind -> (seq, ts_us, value)
        self.last_value: dict[str, tuple[float, int]] = {}      # kind -> (value, ts_us)
        self.last_total: dict[str, float] = {}                  # cumulative kind -> total
        self.client: mqtt_async.Client | None = None

    def t(self, key: str, **kw: object) -> str:
        return text(self.lang, key, **kw)

    def _received(self, batch: list[mqtt_async.Message]) -> None:
        at = _now_us()
        for m in batch:
            # A retained message is what the broker kept from before, not what the device
            # says now (the broker sets the flag only on delivery at subscription).
            if not m.retain:
                self.inbox.put_nowait((m, at))

    async def connect(self) -> None:
        from anju import mqtt_async

        self.client = await mqtt_async.connect(
            self.o.host, self.o.port, client_id=f"anju-contract-test-{secrets.token_hex(4)}",
            username=self.o.username, password=self.o.password, clean_session=True,
            tls=self.o.tls, on_messages=self._received, reconnect=False)
        await self.client.subscribe([(t, 1) for t in self.o.topics()])

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()

    async def run(self) -> Report:
        o = self.o
        report = Report(o.device, o.kind, o.script, o.broker)
        steps = script_steps(o.script, o.kind)
        self.emit(self.t("bench.header", device=o.device, kind=o.kind, script=o.script,
                         broker=o.broker, steps=len(steps)))
        for n, step in enumerate(steps, 1):
            report.steps.append(await self.run_step(n, len(steps), step))
        return report

    def expect_word(self, e: Expect) -> str:
        leaf = "/".join(e.leaves)
        if e.mode == "equals":
            v = e.value
            return self.t("bench.expect.equals", leaf=leaf,
                          value=f"{v:g}" if isinstance(v, float) else v)
        if e.mode in ("increase", "range"):
            return self.t(f"bench.expect.{e.mode}", leaf=leaf, low=f"{e.low:g}",
                          high=f"{e.high:g}", unit=SPECS[KIND_BY_LABEL[leaf]].unit)
        return self.t("bench.expect.any", leaf=leaf)

    def expect_words(self, step: Step) -> str:
        return self.t("bench.expect.then").join(self.expect_word(e) for e in step.expects)

    async def run_step(self, n: int, total: int, step: Step) -> StepResult:
        instruction = self.t(step.instruction, **dict(step.fields))
        r = StepResult(n, step.name, instruction, self.expect_words(step))
        self.emit("")
        self.emit(self.t("bench.step", n=n, total=total, instruction=instruction))
        self.emit("  " + self.t("bench.waiting_for", expect=r.expect))
        if not self.o.yes and self.enter is not None:
            self.emit("  " + self.t("bench.press_enter"))
            await self.enter()
        while not self.inbox.empty():        # what came before the step is not its answer
            self.inbox.get_nowait()
        if self.o.yes:
            self.emit(f"STEP {n} {step.name} {','.join(e.token() for e in step.expects)}")
        started = time.monotonic()
        try:
            await self.wait_for(step, r)
            r.passed = True
        except Failed as f:
            r.code, r.reason = f.code, f.reason
        r.seconds = round(time.monotonic() - started, 2)
        if r.passed:
            self.emit("  " + self.t("bench.passed", seconds=f"{r.seconds:.1f}"))
        else:
            self.emit("  " + self.t("bench.failed", reason=r.reason))
        for note in r.notes:
            self.emit("  " + self.t("bench.note", note=note))
        return r

    async def wait_for(self, step: Step, r: StepResult) -> None:
        timeout = self.o.step_timeout + step.action_s
        i = 0
        deadline = time.monotonic() + timeout
        while i < len(step.expects):
            e = step.expects[i]
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise asyncio.TimeoutError
                m, at_us = await asyncio.wait_for(self.inbox.get(), left)
            except asyncio.TimeoutError:
                self.timed_out(step, e, timeout)
            for item in self.judge(m, at_us, r):
                if item.leaf not in e.leaves:
                    continue
                if self.matches(step, i, item, r):
                    i += 1
                    deadline = time.monotonic() + timeout   # each message has its own time
                    if i == len(step.expects):
                        break
                    e = step.expects[i]

    def timed_out(self, step: Step, e: Expect, timeout: float) -> NoReturn:
        secs = f"{timeout:g}"
        if step.name == "unplug":
            raise Failed("no_will", self.t("bench.why.no_will", seconds=secs,
                                           topic=f"anju/v1/devices/{self.o.device}/status",
                                           payload='{"status":"offline"}'))
        raise Failed("timeout", self.t("bench.why.timeout", seconds=secs,
                                       expect=self.expect_word(e)))

    def judge(self, m: mqtt_async.Message, at_us: int, r: StepResult) -> list[_Item]:
        """What a message says, as the ingest reads it, after the checks every message
        gets (rejection, seq, device clock); raises Failed."""
        from ingest.decode import decode

        out = decode(m.topic, m.payload, self.registry, at_us, self.o.limits)
        seen: dict[str, object] = {"topic": m.topic, "payload": shown(m.payload),
                                   "at": round(at_us / 1e6, 3)}
        r.messages.append(seen)
        if out.ignored:
            seen["verdict"] = "ignored"
            return []
        if out.reject is not None:
            seen["verdict"] = f"rejected: {out.reject}"
            raise Failed("rejected", self.t("bench.why.rejected", reason=out.reject,
                                            topic=m.topic, payload=shown(m.payload, 120)))
        seen["verdict"] = "accepted"
        leaf = m.topic.rsplit("/", 1)[-1]
        items: list[_Item] = []
        if out.status is not None and not out.rows:
            st = msgspec.json.decode(m.payload)
            status = st.get("status") if isinstance(st, dict) else None
            items.append(_Item("status", status or "online", out.status.ts_us))
        present = _seq_present(m.payload, leaf)
        for k, (ts_us, seq, value, _dev, kind) in enumerate(out.rows):
            items.append(_Item(Kind(kind).label, value, ts_us, seq,
                               present[k] if k < len(present) else True))
        kept = []
        for item in items:
            if self.check_common(item, at_us, r):
                kept.append(item)
        return kept

    def check_common(self, item: _Item, at_us: int, r: StepResult) -> bool:
        """The checks every reading and status gets; False for a duplicate (skipped)."""
        # A will is fixed when the device connects, so a ts in it is as old as the
        # connection: the device clock is judged on everything else.
        if item.ts_us is not None and not (item.leaf == "status" and item.value == "offline"):
            off = (item.ts_us - at_us) / 1e6
            if abs(off) > CLOCK_TOLERANCE_S:
                raise Failed("clock", self.t("bench.why.clock", offset=f"{off:+.0f}",
                                             allowed=CLOCK_TOLERANCE_S, field="ts"))
        if item.leaf == "status" or item.seq is None:
            return True
        assert item.ts_us is not None and isinstance(item.value, float)
        if not item.has_seq:
            raise Failed("seq_missing", self.t("bench.why.seq_missing", field="seq",
                                               leaf=item.leaf))
        prev = self.last_seq.get(item.leaf)
        if prev is not None:
            if prev == (item.seq, item.ts_us, item.value):
                return False      # the same reading again (a QoS 1 resend): stored once
            if item.seq <= prev[0]:
                raise Failed("seq_not_increasing", self.t(
                    "bench.why.seq_not_increasing", field="seq", leaf=item.leaf,
                    seq=item.seq, prev=prev[0]))
        self.last_seq[item.leaf] = (item.seq, item.ts_us, item.value)
        if SPECS[KIND_BY_LABEL[item.leaf]].cumulative:
            total = self.last_total.get(item.leaf)
            if total is not None and item.value < total:
                raise Failed("went_down", self.t(
                    "bench.why.went_down", leaf=item.leaf, prev=f"{total:g}",
                    got=f"{item.value:g}", unit=SPECS[KIND_BY_LABEL[item.leaf]].unit))
            self.last_total[item.leaf] = item.value
        return True

    def matches(self, step: Step, i: int, item: _Item, r: StepResult) -> bool:
        """True when `item` is the i-th expected message of the step; False to keep waiting;
        raises Failed when it is the right kind of message with the wrong content."""
        e = step.expects[i]
        if e.mode == "equals":
            if item.value == e.value:
                self._remember(item)
                return True
            later = [x for x in step.expects[i + 1:] if x.value == item.value]
            if step.name == "unplug" or (step.name == "connect" and item.value == "online"):
                return False  # a heartbeat while waiting for the will is no fault
            shown_want = f"{e.value:g}" if isinstance(e.value, float) else e.value
            shown_got = f"{item.value:g}" if isinstance(item.value, float) else item.value
            if later:
                raise Failed("wrong_order", self.t("bench.why.wrong_order", leaf=item.leaf,
                                                   got=shown_got, want=shown_want))
            raise Failed("wrong_value", self.t("bench.why.wrong_value", leaf=item.leaf,
                                               got=shown_got, want=shown_want))
        assert isinstance(item.value, float)
        unit = SPECS[KIND_BY_LABEL[item.leaf]].unit
        prev = self.last_value.get(item.leaf)
        if e.mode == "increase":
            if prev is None:
                self._remember(item)           # no baseline yet: this one is it
                return False
            delta = item.value - prev[0]
            if delta == 0:
                return False                   # a report from before the tap opened
            if delta < 0:
                raise Failed("went_down", self.t("bench.why.went_down", leaf=item.leaf,
                                                 prev=f"{prev[0]:g}", got=f"{item.value:g}",
                                                 unit=unit))
            assert e.low is not None and e.high is not None
            if not e.low <= delta <= e.high:
                raise Failed("implausible", self.t(
                    "bench.why.implausible_increase", leaf=item.leaf, delta=f"{delta:g}",
                    low=f"{e.low:g}", high=f"{e.high:g}", unit=unit))
        elif e.mode == "range":
            assert e.low is not None and e.high is not None
            if not e.low <= item.value <= e.high:
                raise Failed("implausible", self.t(
                    "bench.why.implausible_value", leaf=item.leaf, value=f"{item.value:g}",
                    low=f"{e.low:g}", high=f"{e.high:g}", unit=unit))
        if step.name == "report_again" and prev is not None and item.ts_us is not None:
            r.notes.append(self.t("bench.note_interval", leaf=item.leaf,
                                  seconds=f"{(item.ts_us - prev[1]) / 1e6:.0f}"))
            if item.ts_us % 60_000_000 < 1_000_000 and prev[1] % 60_000_000 < 1_000_000:
                r.notes.append(self.t("bench.note_on_the_minute"))
        self._remember(item)
        return True

    def _remember(self, item: _Item) -> None:
        if isinstance(item.value, float) and item.ts_us is not None:
            self.last_value[item.leaf] = (item.value, item.ts_us)


async def run_bench(opts: Options, *, lang: str = "en", emit: Emit = print,
                    enter: Enter | None = None) -> Report:
    """The in-process entry: connect, subscribe, run the script, return the result.
    Raises mqtt_async.MqttError (ConnectRefused) when the broker cannot be used."""
    bench = Bench(opts, lang, emit, enter)
    try:
        await bench.connect()
        return await bench.run()
    finally:
        await bench.close()


# -- command line ------------------------------------------------------------------------


def broker_url(value: str) -> tuple[str, int, bool]:
    """mqtt://HOST:PORT or mqtts://HOST:PORT -> (host, port, tls); argparse's type."""
    try:
        p = urlsplit(value)
        port = p.port
    except ValueError:
        p, port = None, None
    if p is None or p.scheme not in ("mqtt", "mqtts") or not p.hostname or \
            p.path not in ("", "/") or p.query:
        raise argparse.ArgumentTypeError(text(cli_lang(), "bench.bad_url", url=value,
                                              form="mqtt://HOST:PORT | mqtts://HOST:PORT"))
    return p.hostname, port or (8883 if p.scheme == "mqtts" else 1883), p.scheme == "mqtts"


def _seconds(value: str) -> float:
    try:
        s = float(value)
    except ValueError:
        s = math.nan
    if not 0 < s <= 3600:
        raise argparse.ArgumentTypeError(text(cli_lang(), "bench.bad_timeout", value=value))
    return s


async def _stdin_enter() -> None:
    """Wait for Enter without blocking the loop (messages keep arriving meanwhile); a
    daemon thread, so an interrupted wait does not hold the process at exit."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def read() -> None:
        sys.stdin.readline()
        loop.call_soon_threadsafe(lambda: done.done() or done.set_result(None))

    threading.Thread(target=read, daemon=True).start()
    await done


def render(report: Report, lang: str) -> list[str]:
    lines = ["", text(lang, "bench.summary_title", device=report.device)]
    for s in report.steps:
        mark = "✓" if s.passed else "✗"
        verdict = text(lang, "bench.passed", seconds=f"{s.seconds:.1f}") if s.passed else \
            text(lang, "bench.failed", reason=s.reason)
        lines.append(f"  {mark} {s.n} {s.name}: {verdict}")
    ok = sum(s.passed for s in report.steps)
    lines.append(text(lang, "bench.summary_pass" if report.passed else "bench.summary_fail",
                      passed=ok, total=len(report.steps)))
    return lines


def cmd_contract_test(args: argparse.Namespace, s: Settings) -> int:
    from anju import mqtt_async

    lang = cli_lang()
    host, port, tls = args.broker
    script = args.script or DEFAULT_SCRIPT[args.kind]
    why = script_problem(script, args.kind, lang)
    if why:
        print(why, file=sys.stderr)
        return 2
    cfg = s.ingest
    opts = Options(host=host, port=port, tls=tls, username=args.username,
                   password=args.password, device=args.device, kind=args.kind, script=script,
                   gateway=args.gateway, external_name=args.external_name,
                   step_timeout=args.step_timeout, yes=args.yes,
                   limits=Limits(cfg.max_future_s * 1_000_000, cfg.max_past_s * 1_000_000,
                                 cfg.max_depth, cfg.max_string, cfg.max_payload))
    # With --json, stdout holds the JSON alone; what the person reads goes to stderr.
    stream = sys.stderr if args.json else sys.stdout

    def emit(line: str) -> None:
        print(line, file=stream, flush=True)

    try:
        report = asyncio.run(run_bench(opts, lang=lang, emit=emit, enter=_stdin_enter))
    except mqtt_async.MqttError as e:
        print(text(lang, "bench.cannot_connect", broker=opts.broker, error=str(e)),
              file=sys.stderr)
        if "subscription refused" in str(e):
            print(text(lang, "bench.hint_identity", user="anju-admin"), file=sys.stderr)
        return 2
    for line in render(report, lang):
        emit(line)
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    return 0 if report.passed else 1


def register(cli) -> None:  # type: ignore[no-untyped-def]
    """`anju contract test`, on the group `anju contract export` shares."""
    group = cli.group("contract", "the device contract")
    p = cli.command("test", cmd_contract_test, "walk a device on a vendor's bench through the "
                    "contract: each action, the message it must send", group)
    p.add_argument("--broker", required=True, type=broker_url, metavar="mqtt://HOST:PORT",
                   help="the broker the device publishes to (mqtts:// for TLS)")
    p.add_argument("--username", help="a user that may subscribe to the device's topics "
                   "(anju's broker: a service identity such as anju-admin)")
    p.add_argument("--password")
    p.add_argument("--device", required=True, metavar="UID", help="the device id (its topics)")
    p.add_argument("--kind", required=True, choices=sorted(DEVICE_KINDS),
                   help="what kind of device it is")
    p.add_argument("--script", choices=SCRIPTS,
                   help="what to walk through (default: the kind's own script)")
    p.add_argument("--gateway", metavar="GATEWAY_UID",
                   help="also listen on anju/v1/gateways/GATEWAY_UID/NAME/#")
    p.add_argument("--external-name", metavar="NAME",
                   help="the device's name on the gateway (default: UID)")
    p.add_argument("--step-timeout", type=_seconds, default=DEFAULT_STEP_TIMEOUT_S,
                   metavar="S", help=f"seconds each message may take (default "
                   f"{DEFAULT_STEP_TIMEOUT_S:g})")
    p.add_argument("--yes", action="store_true",
                   help="start each step at once (automation): no Enter, and a "
                   "'STEP n name expectation' line per step")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
