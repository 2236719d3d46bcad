"""`anju device check UID [--minutes M] [--json]`: a live conformance report for one device.

It subscribes to the device's topics as a service identity that may read them (the admin
account of the embedded stack, else the ingest's account from the settings), on a plain,
clean, non-shared subscription: the broker hands it a copy of each message and takes
nothing from the ingest's shared or persistent subscriptions. Each message is printed as
it arrives (time, topic leaf, how anju read it or why it refused it); at the end comes the
report of ingest.conformance — one verdict per requirement of the contract and a summary
a vendor can attach to a certification request. Exit code 0 when no requirement fails,
1 when one does, 2 for a bad argument (an unknown device, a broker that refuses us).

The last will: Mosquitto logs the CONNECT's will flag only at debug level, and the stack's
broker logs at notice, so the check cannot read it. What it does instead is what a
subscriber can see: the broker's publication of the will (an "offline" status) when the
device's connection drops. Not seen in the window, the verdict says to pull the device's
power during the check.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import secrets
import signal
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Callable
from zoneinfo import ZoneInfo

import psycopg

from anju.endpoints import MqttEndpoint, resolve
from anju.i18n import text
from anju.settings import IngestSettings, Settings
from anju.typed_config import cli_lang
from ingest.message import Limits

if TYPE_CHECKING:
    # loaded when the check runs, not by every `anju` command that builds the parser
    from ingest import conformance as cf

Emit = Callable[[str], None]
Clock = Callable[[], int]


def now_us() -> int:
    return time.time_ns() // 1000

MAX_MINUTES = 1440.0


class UnknownDevice(LookupError):
    pass


def limits_of(cfg: IngestSettings) -> Limits:
    """The ingest's own limits, from the same settings the ingest reads."""
    return Limits(cfg.max_future_s * 1_000_000, cfg.max_past_s * 1_000_000, cfg.max_depth,
                  cfg.max_string, cfg.max_payload)


def topics(dev: cf.DeviceInfo) -> list[str]:
    """The device's own topics, and for one behind a gateway the gateway's topics for it
    (anju's contract and zigbee2mqtt's)."""
    t = [f"anju/v1/devices/{dev.uid}/#"]
    if dev.gateway:
        name = dev.external_name or dev.uid
        t += [f"anju/v1/gateways/{dev.gateway}/{name}/#", f"anju/v1/z2m/{dev.gateway}/{name}"]
    return t


@dataclass
class Loaded:
    dev: cf.DeviceInfo
    tz: str
    fleet: list[float]


async def load(database_url: str, uid: str) -> Loaded:
    from ingest import conformance as cf
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cur = await conn.execute(cf.DEVICE_BY_UID, (uid,))
        row = await cur.fetchone()
        if row is None:
            raise UnknownDevice(uid)
        dev, extra = cf.device_info(row)
        fleet: list[float] = []
        if dev.kind in cf.METER_DEVICES:
            cur = await conn.execute(cf.FLEET_ARRIVALS, {"kinds": cf.FLEET_KINDS,
                                                         "device": dev.id})
            fleet = cf.fleet_seconds(await cur.fetchall())
    return Loaded(dev, extra["tz"] or "Asia/Shanghai", fleet)


def _clock(at_us: int, tz: str) -> str:
    return datetime.fromtimestamp(at_us / 1e6, ZoneInfo(tz)).strftime("%H:%M:%S.%f")[:12]


async def run_check(database_url: str, mqtt: MqttEndpoint, uid: str, seconds: float, *,
                    lang: str = "en", emit: Emit = print, limits: Limits = Limits(),
                    ready: asyncio.Event | None = None,
                    stop: asyncio.Event | None = None, clock: Clock = now_us) -> cf.Report:
    """The in-process entry: watch `uid` for `seconds` (or until `stop`), print each message,
    return the report. `ready` is set once subscribed; `clock` stamps arrivals (epoch µs).
    Raises UnknownDevice, or
    mqtt_async.MqttError when the broker cannot be used."""
    from anju import mqtt_async
    from ingest import conformance as cf

    info = await load(database_url, uid)
    dev, tz = info.dev, info.tz
    registry = cf.OneDevice(dev)
    seen: list[cf.Observed] = []

    def received(batch: list[mqtt_async.Message]) -> None:
        at = clock()
        for m in batch:
            obs = cf.Observed(m.topic, m.payload, at, retained=m.retain)
            seen.append(obs)
            line = cf.read(obs, registry, limits)
            mark = " " + text(lang, "conformance.line.retained") if m.retain else ""
            emit(f"{_clock(at, tz)}  {line.leaf:12} {line.read_as(lang)}{mark}")

    subs = topics(dev)
    client = await mqtt_async.connect(
        mqtt.host, mqtt.port, client_id=f"anju-device-check-{secrets.token_hex(4)}",
        username=mqtt.username, password=mqtt.password, tls=mqtt.tls, clean_session=True,
        on_messages=received, reconnect=False)
    try:
        await client.subscribe([(t, 1) for t in subs])
        since = clock()
        emit(text(lang, "conformance.cli.watching", device=uid, minutes=f"{seconds / 60:g}",
                  topics=", ".join(subs)))
        if ready is not None:
            ready.set()
        waiter = stop or asyncio.Event()
        try:
            await asyncio.wait_for(waiter.wait(), seconds)
        except asyncio.TimeoutError:
            pass
        until = clock()
    finally:
        await client.close()
    return cf.check(dev, seen, since_us=since, until_us=until, limits=limits,
                    fleet=info.fleet, source="live")


def minutes_arg(value: str) -> float:
    """Minutes, fractions allowed (a test watches for a few seconds); argparse's type."""
    try:
        m = float(value)
    except ValueError:
        m = math.nan
    if not 0 < m <= MAX_MINUTES:
        raise argparse.ArgumentTypeError(text(cli_lang(), "conformance.cli.bad_minutes",
                                              value=value))
    return m


def cmd_device_check(args: argparse.Namespace, s: Settings) -> int:
    from anju import mqtt_async

    lang = cli_lang()
    ep = resolve(s)
    # The admin account reads every device topic; with external servers only the
    # ingest's account is known, which reads anju/v1/# too.
    mqtt = ep.admin_mqtt()
    stream = sys.stderr if args.json else sys.stdout

    def emit(line: str) -> None:
        print(line, file=stream, flush=True)

    async def main() -> cf.Report:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):   # Ctrl-C: the report on what came
            loop.add_signal_handler(sig, stop.set)
        return await run_check(ep.database_url, mqtt, args.uid, args.minutes * 60, lang=lang,
                               emit=emit, limits=limits_of(s.ingest), stop=stop)

    try:
        report = asyncio.run(main())
    except UnknownDevice:
        print(text(lang, "conformance.cli.unknown_device", device=args.uid,
                   command="anju device list"), file=sys.stderr)
        return 2
    except mqtt_async.MqttError as e:
        print(text(lang, "conformance.cli.cannot_connect",
                   broker=f"{mqtt.host}:{mqtt.port}", error=str(e)), file=sys.stderr)
        return 2
    emit("")
    emit(report.summary(lang))
    if args.json:
        print(json.dumps(report.as_json(lang), ensure_ascii=False, indent=2))
    return 1 if report.failed else 0


def register(cli) -> None:  # type: ignore[no-untyped-def]
    """`anju device check`, on the group `anju device add` shares."""
    group = cli.group("device", "devices")
    p = cli.command("check", cmd_device_check, "watch one device live and report how it "
                    "meets the device contract (exit 1 when a requirement fails)", group)
    p.add_argument("uid", metavar="UID", help="the device id")
    p.add_argument("--minutes", type=minutes_arg, default=30.0, metavar="M",
                   help="how long to watch (default 30; fractions allowed)")
    p.add_argument("--json", action="store_true",
                   help="print the report as JSON on stdout (the messages go to stderr)")
