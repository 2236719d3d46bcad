"""`anju soak`: N simulated homes through the whole of anju while faults are done to it.

The run, in order:

1. the embedded servers (PostgreSQL+TimescaleDB, Mosquitto) and the schema;
2. the homes provisioned (gateway mode, per-gateway credentials), their contacts on real local
   endpoints, an operator for the console, two homes of hostile devices;
3. the services started as processes (ingest, detect, route, console, watchdog);
4. the homes' days published through a link that can be cut, with emergencies and collapses
   at seeded times, while the plan's faults are done and a responder acknowledges;
5. a drain: until every reading sent is stored (or a limit), deliveries and acks settle;
6. the figures read back from the database and the endpoints (soak/figures.py); report, JSON,
   SVG timeline.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import sys
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import psycopg

from anju import db, registry
from anju.embedded import Stack
from anju.host import free_port
from console.users import NewUser, add_user
from simulators import fleet
from simulators import incidents as inc_mod
from simulators.homes import make_fleet
from soak import figures as figures_mod
from soak import load, measure, report, timeline
from soak.faults import FaultRunner, Intruder, console_healthy
from soak.netcut import NetCut
from soak.people import Console, Endpoints, Responder, add_contacts
from soak.options import PREHISTORY_S, Options, Run
from soak.plan import OUTAGES, make_plan
from soak.services import Services

LEAF = {"button": b"/button", "smoke": b"/smoke", "gas": b"/gas", "water_leak": b"/leak"}
DEFAULT_STILL_S = 720 * 60         # a new home's inactivity limit (detectors.config)
DRAIN_LIMIT_S = 240


TTY = sys.stderr.isatty()


def _log(o: Options, text: str) -> None:
    if o.progress:
        print(f"\r\033[K{text}" if TTY else text, file=sys.stderr, flush=True)


def _env(stack: Stack, console_port: int, ep: Endpoints) -> dict[str, str]:
    # acknowledgement links in the messages point at the console, which serves them
    env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir),
               ANJU_ROUTER_PUBLIC_URL=f"http://127.0.0.1:{console_port}",
               ANJU_WATCHDOG_URLS=ep.http.url("/operators"))
    for k in ("ANJU_DATABASE_URL", "ANJU_MQTT_URL", "ANJU_CONFIG", "ANJU_INGEST_SHARE_GROUP"):
        env.pop(k, None)
    return env


def _provision(stack: Stack, o: Options, prefix: str, community: str, out: Path,
               ep: Endpoints, rng: random.Random):
    profiles = make_fleet(o.homes, o.seed, prefix=prefix)
    with db.connect(stack.database_url()) as conn:
        homes = fleet.provision(conn, profiles, credentials=out / "credentials.json",
                                gateway_mode=True, community=community)
        # Two homes of the soak's own, each a device on its own connection: one sends hostile
        # traffic (poison, hijack), the other is whose button it tries to press.
        registry.add_home(conn, code=f"{prefix}-x1", community=community, resident="hostile")
        bad = registry.add_device(conn, home=f"{prefix}-x1", kind="motion", room="bedroom",
                                  uid=f"{prefix}-x1-motion")
        registry.add_home(conn, code=f"{prefix}-x2", community=community, resident="target")
        victim = registry.add_device(conn, home=f"{prefix}-x2", kind="button", room="bedroom",
                                     uid=f"{prefix}-x2-button")
        fails = add_contacts(conn, ep, [h.profile.code for h in homes], community, rng)
        password = secrets.token_urlsafe(18)
        user = f"{prefix}-operator"
        add_user(conn, NewUser(username=user, name="社区值班员", role="operator",
                               communities=(community,)), password)
        stack.write_broker_files(registry.broker_user_hashes(conn))
        conn.commit()
    stack.reload_broker()
    return homes, Intruder(bad.uid, bad.password or "", victim.uid, victim.password or ""), fails, (user, password)


async def _wait(what: str, ok, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout:.0f} s")
        await asyncio.sleep(0.2)


def _incidents(run: Run, homes, t_sim0: int, t_sim_end: int, rng: random.Random
               ) -> tuple[dict[str, list[inc_mod.Incident]], list[measure.Injected], dict]:
    """The plan's emergencies and collapses as the simulators' incidents, plus a few
    batteries running down."""
    o, plan = run.o, run.plan
    incs: dict[str, list[inc_mod.Incident]] = {}
    injected: list[measure.Injected] = []
    for e in plan.emergencies:
        p = homes[e.home_index].profile
        start = int(t_sim0 + e.at_s * o.speed)
        incs.setdefault(p.code, []).append(
            inc_mod.make(e.kind, p, rng, start, t_sim0, t_sim_end))
        # at: seconds into the load for now; the time it was sent once it has been
        injected.append(measure.Injected(p.code, e.kind, e.at_s, e.in_outage))
    collapses = {}
    for hi, found_s in plan.collapses:
        p = homes[hi].profile
        fell = int(time.time() + found_s - DEFAULT_STILL_S)
        inc = inc_mod.make("collapse", p, rng, fell, fell - 3600, t_sim_end)
        incs.setdefault(p.code, []).append(inc)
        collapses[p.code] = inc
    for _ in range(max(1, o.homes // 100)):
        p = homes[rng.randrange(len(homes))].profile
        if p.code in incs or not any(not d.mains for d in p.devices):
            continue
        incs[p.code] = [inc_mod.make("battery_low", p, rng, int(t_sim0 + rng.uniform(
            0.1, 0.8) * o.minutes * 60 * o.speed), t_sim0, t_sim_end)]
    return incs, injected, collapses


async def _drive(run: Run, stack: Stack, homes, services: Services, ep: Endpoints,
                 responder: Responder, faults: FaultRunner, netcut: NetCut) -> dict:
    o, plan = run.o, run.plan
    rng = random.Random(f"soak:{o.seed}")
    total = o.minutes * 60
    # Device time: at speed 1 the residents live now; faster, their day starts earlier so
    # that the simulated clock meets the real one at the end (readings are never from the
    # future).
    connect_s = 3 + o.homes / 150
    t_end = int(time.time() + connect_s + total)
    t_sim0 = int(t_end - total * o.speed)
    incs, injected, collapses = _incidents(run, homes, t_sim0, t_end, rng)
    stats = fleet.Stats(by_device={})
    realism = load.Realism(random.Random(f"realism:{o.seed}"))
    endpoint = SimpleNamespace(host="127.0.0.1", port=netcut.port, tls=False)

    if collapses:
        pre = [h for h in homes if h.profile.code in collapses]
        _log(o, f"the {len(pre)} collapse home(s): publishing their last {PREHISTORY_S / 3600:.1f} h")
        await fleet.publish_streams(endpoint, fleet.home_streams(pre, t_sim0 - PREHISTORY_S,
                                                                   t_sim0, incs),
                                    t_first=t_sim0 - PREHISTORY_S, speed=0, end=t_sim0,
                                    stats=stats, keepalive=60)
        for code, inc in collapses.items():
            injected.append(measure.Injected(code, "collapse", float(inc.start)))

    streams = load.streams(homes, t_sim0, t_end, incs, rng)
    started = asyncio.Event()
    stop = asyncio.Event()

    def hook(s, conn, topic: bytes, payload: bytes) -> None:
        if not started.is_set():
            run.t_load = time.time()
            started.set()
        realism.hook(s, conn, topic, payload)
        for kind, leaf in LEAF.items():
            if topic.endswith(leaf) and b'"value":1' in payload:
                run.pressed.setdefault((s.home, kind), []).append(time.time())

    def progress(st, last_sim) -> None:
        if not started.is_set():
            run.t_load = time.time()
            started.set()

    load_task = asyncio.create_task(fleet.publish_streams(
        endpoint, streams, t_first=t_sim0, speed=o.speed, end=t_end, stats=stats,
        keepalive=60, on_message=hook, progress=progress, stop=stop))
    await started.wait()
    _log(o, f"load: {len(streams)} homes connected in {run.t_load - run.started_at:.0f} s "
            "since the start")
    dropper = asyncio.create_task(load.drop_gateways(streams, o.minutes, rng, realism, stop))

    async def do_faults() -> None:
        for f in plan.faults:
            await asyncio.sleep(max(0.0, run.t_load + f.at_s - time.time()))
            _log(o, f"fault at {f.at_s:5.0f} s: {f.kind}")
            d = await faults.do(f)
            _log(o, f"  {d.detail}")

    fault_task = asyncio.create_task(do_faults())
    bar = asyncio.create_task(_progress(run, stats, ep, faults, load_task))
    try:
        while not load_task.done():
            responder.hear(ep.poll())
            await asyncio.sleep(0.5)
        await load_task
    finally:
        stop.set()
        for t in (dropper, bar):
            t.cancel()
    await fault_task
    # Emergencies: the time each was actually sent (the hook saw it go).
    for e in injected:
        if e.kind != "collapse":
            planned = run.t_load + e.at
            sent = [t for t in run.pressed.get((e.home, e.kind), []) if t >= planned - 30]
            e.at = sent[0] if sent else planned
    for e in injected:
        if e.in_outage:
            done = next((d for d in faults.done if d.fault.kind in OUTAGES and d.end
                         and d.at <= e.at <= d.end + 60), None)
            e.outage_end = done.end if done else None
    return {"stats": stats, "realism": realism, "injected": injected, "incidents": incs}


async def _progress(run: Run, stats, ep: Endpoints, faults: FaultRunner, load_task) -> None:
    o = run.o
    total = o.minutes * 60
    while not load_task.done():
        el = time.time() - run.t_load
        n = int(30 * min(1.0, el / total))
        told = len({a.alert_id for a in ep.arrivals if a.alert_id and a.who != "operators"})
        line = (f"[{'#' * n}{'.' * (30 - n)}] {el / 60:4.1f}/{o.minutes:g} min  "
                f"sent {stats.readings}  faults {len(faults.done)}/{len(run.plan.faults)}  "
                f"alerts told {told}")
        if o.progress and TTY:
            print(f"\r\033[K{line}", end="", file=sys.stderr, flush=True)
        elif o.progress and int(el) % 60 == 0:     # a log file gets a line a minute
            print(line, file=sys.stderr, flush=True)
        await asyncio.sleep(1)


async def _drain(run: Run, db_url: str, published: dict[str, int], ep: Endpoints,
                 responder: Responder, faults: FaultRunner) -> float:
    """Until the readings sent are stored, and the acknowledgements and recoveries are done."""
    o = run.o
    t0 = time.time()
    want = sum(published.values())
    since = run.readings_since
    got = -1
    while time.time() - t0 < DRAIN_LIMIT_S:
        responder.hear(ep.poll())
        try:
            got = await asyncio.to_thread(_stored, db_url, run.prefix, since, published)
        except psycopg.OperationalError:
            got = -1
        if got >= want and not responder.pending and not faults.busy:
            break
        if o.progress and TTY:
            print(f"\r\033[Kdrain: {got}/{want} stored, {responder.pending} acks pending,"
                  f" {'recoveries being timed' if faults.busy else ''}", end="",
                  file=sys.stderr, flush=True)
        await asyncio.sleep(2)
    # Escalations still due run on: a few seconds more for deliveries already under way.
    await asyncio.sleep(5)
    responder.hear(ep.poll())
    return time.time() - t0


def _stored(db_url: str, prefix: str, since: datetime, published: dict[str, int]) -> int:
    with psycopg.connect(db_url, connect_timeout=5) as conn:
        return measure.stored_total(measure.stored_counts(conn, prefix, since), published)


async def _main(o: Options) -> dict:
    out = o.out_dir or (o.state_dir / "soak" / time.strftime("%Y%m%d-%H%M%S"))
    out.mkdir(parents=True, exist_ok=True)
    stack = Stack(o.state_dir)
    _log(o, "starting the embedded servers ...")
    await asyncio.to_thread(stack.up)
    await asyncio.to_thread(db.migrate, stack.database_url())
    rng = random.Random(f"people:{o.seed}")
    prefix = f"soak{int(time.time()) % 10**7:07d}"
    community = f"{prefix}-community"
    ep = Endpoints()
    _log(o, f"provisioning {o.homes} homes ({prefix}-*) ...")
    homes, intruder, _fails, (user, password) = await asyncio.to_thread(
        _provision, stack, o, prefix, community, out, ep, rng)
    plan = make_plan([{d.kind for d in h.profile.devices} for h in homes], o.minutes, o.seed,
                     o.faults, o.fault_text, o.collapses if o.speed == 1 else 0)
    run = Run(o, plan, prefix)
    console_port = free_port()
    services = Services(stack, out / "logs", console_port=console_port,
                        env=_env(stack, console_port, ep), group="soak", community=community)
    host, port = stack.device_address()
    netcut = NetCut(host, port).start()
    db_url = stack.database_url()
    try:
        services.start()
        await _wait("the ingest did not subscribe",
                    lambda: "subscribed to" in services.log("ingest"), 60)
        await _wait("the console did not answer", lambda: console_healthy(console_port), 60)
        await _wait("the detectors did not start", lambda: "watching" in services.log("detectors"),
                    60)
        responder = Responder(Console(f"http://127.0.0.1:{console_port}", user, password),
                              random.Random(f"responder:{o.seed}"))
        faults = FaultRunner(stack, services, netcut, db_url, console_port, intruder)
        _log(o, f"running {o.minutes:g} min: {len(plan.faults)} faults, "
                f"{len(plan.emergencies)} emergencies, {len(plan.collapses)} collapse(s)")
        drive = await _drive(run, stack, homes, services, ep, responder, faults, netcut)
        drained = await _drain(run, db_url, drive["stats"].by_device, ep, responder, faults)
        _log(o, f"drained in {drained:.0f} s; measuring ...")
        figures = await asyncio.to_thread(figures_mod.collect, run, db_url, drive, services,
                                          faults, ep, responder, intruder)
        figures["drain_s"] = round(drained, 1)
        figures["service_events"] = [[round(t - run.t_load, 1), n, w]
                                     for t, n, w in services.events]
    finally:
        services.stop()
        netcut.stop()
        ep.stop()
    figures["services"] = services.figures()
    (out / "figures.json").write_text(json.dumps(figures, ensure_ascii=False, indent=1))
    (out / "report.md").write_text(report.render_report(figures, "zh"))
    (out / "report.en.md").write_text(report.render_report(figures, "en"))
    (out / "timeline.svg").write_text(timeline.render_svg(figures, "zh"))
    figures["out_dir"] = str(out)
    return figures


def run(o: Options) -> dict:
    return asyncio.run(_main(o))
