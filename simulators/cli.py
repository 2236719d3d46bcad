"""`anju sim`: generate, run (publish simulated homes over MQTT) and replay recorded logs."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from anju import db, registry
from anju.cli import positive_int as _positive
from anju.endpoints import resolve
from anju.host import raise_fd_limit
from simulators import formats, incidents, personas, replay
from simulators.generate import FleetSpec, write_fleet
from simulators.homes import make_fleet


def _nonneg_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {v}")
    return v


def _names(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def register(cli) -> None:
    sp = cli.commands.add_parser("sim", help="simulated residents: generate files, publish, replay")
    g = sp.add_subparsers(dest="sim_cmd", metavar="ACTION", required=True)

    p = cli.command("generate", cmd_generate,
                    "write simulated homes' events (events.csv, incidents.jsonl, homes.json)", g)
    p.add_argument("--homes", type=_positive, required=True)
    p.add_argument("--days", type=_positive, default=7)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--start", default="2024-03-04", help="first local day, YYYY-MM-DD")
    p.add_argument("--tz", default=None, help="homes' time zone (default: settings default_tz)")
    p.add_argument("--prefix", default="sim", help="home code prefix (default sim)")
    p.add_argument("--incidents-per-home-week", type=_nonneg_float, default=0.0)
    p.add_argument("--incident-kinds", type=_names, default=[],
                   help=f"comma-separated subset of: {', '.join(incidents.KINDS)}")
    p.add_argument("--inject", action="append", default=[], metavar="KIND[@TIME][~DUR][/HOME]",
                   help="inject one incident, e.g. collapse@2024-03-05T14:00+08:00~6h/sim-00002")
    p.add_argument("--personas", type=_names, default=[],
                   help=f"comma-separated, cycled over homes: {', '.join(personas.PERSONAS)}")
    p.add_argument("--workers", type=_positive, default=None, help="processes (default: cores)")

    p = cli.command("run", cmd_run, "provision simulated homes and publish their events over MQTT", g)
    p.add_argument("--homes", type=_positive, required=True)
    p.add_argument("--speed", type=_nonneg_float, default=1.0,
                   help="simulated seconds per real second (1 = real time, 0 = as fast as possible)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--duration", type=_nonneg_float, default=None,
                   help="real seconds to run (default: --days of simulated time)")
    p.add_argument("--days", type=_nonneg_float, default=None,
                   help="simulated days (default 1 when accelerated, 365 in real time)")
    p.add_argument("--start", default=None,
                   help="simulated start, ISO 8601 with offset (default: real time starts now; "
                        "accelerated runs end at about now)")
    p.add_argument("--gateway-mode", action="store_true",
                   help="one connection per home gateway (default for more than 200 homes)")
    p.add_argument("--device-mode", action="store_true", help="one connection per device")
    p.add_argument("--prefix", default="sim")
    p.add_argument("--community", default="sim")
    p.add_argument("--tz", default=None)
    p.add_argument("--personas", type=_names, default=[])
    p.add_argument("--incidents-per-home-week", type=_nonneg_float, default=0.0)
    p.add_argument("--ground-truth", help="write the incidents' ground truth (JSON lines) here")
    p.add_argument("--credentials", help="credentials file (default: STATE_DIR/sim-credentials.json)")

    p = cli.command("replay", cmd_replay, "replay a recorded sensor log over MQTT", g)
    p.add_argument("file")
    p.add_argument("--format", choices=("generic", "casas", "kasteren"), default="generic")
    p.add_argument("--map", help="mapping file (JSON or CSV): recorded sensor -> kind, room")
    p.add_argument("--names", help="van Kasteren sensor names file (default: beside FILE)")
    p.add_argument("--tz", help="zone of local timestamps (default: the map's, else settings)")
    p.add_argument("--speed", type=_nonneg_float, default=60.0)
    p.add_argument("--skip-unmapped", action="store_true",
                   help="drop events of sensors missing from the map (reported) instead of failing")
    p.add_argument("--home", help="home code to replay into (default: the map's, else replay-FILE)")
    p.add_argument("--rebase", choices=("end", "start", "none"), default="end",
                   help="shift timestamps so the log ends now (end), starts now (start), or keep them")
    p.add_argument("--gateway-mode", action="store_true")
    p.add_argument("--check", action="store_true", help="parse and map only; print a summary")
    p.add_argument("--to-csv", help="write the mapped events as generic CSV here, no MQTT")
    p.add_argument("--credentials")


# -- generate --------------------------------------------------------------------------

def cmd_generate(args: argparse.Namespace, settings) -> int:
    try:
        for name in args.personas:
            personas.get(name)
        for k in args.incident_kinds:
            if k not in incidents.KINDS:
                raise ValueError(f"incident kind {k!r}: expected one of {', '.join(incidents.KINDS)}")
        spec = FleetSpec(homes=args.homes, days=args.days, seed=args.seed, start=args.start,
                         tz=args.tz or settings.default_tz, prefix=args.prefix,
                         incidents_per_home_week=args.incidents_per_home_week,
                         personas=tuple(args.personas), incident_kinds=tuple(args.incident_kinds),
                         inject=tuple(args.inject))
        spec.span()
        stats = write_fleet(spec, Path(args.out), workers=args.workers)
    except ValueError as e:
        print(f"anju sim generate: {e}", file=sys.stderr)
        return 2
    print(f"{stats['homes']} homes x {stats['days']} days: {stats['rows']:,} events, "
          f"{stats['incidents']} incidents in {stats['seconds']:.1f} s "
          f"({stats['home_weeks_per_s']:.1f} home-weeks/s) -> {args.out}")
    return 0


# -- run --------------------------------------------------------------------------------

def _creds_path(args, settings) -> Path:
    return Path(args.credentials) if args.credentials else Path(settings.state_dir) / "sim-credentials.json"


def _sync_broker(ep, conn) -> None:
    if ep.stack is not None:
        ep.stack.write_broker_files(registry.broker_user_hashes(conn))
        ep.stack.reload_broker()
        time.sleep(0.3)
    else:
        print("external broker: make sure it has the new device credentials (`anju broker sync` "
              "writes the password and ACL files)", file=sys.stderr)


def _progress_printer(total_sim: float, t_first: float):
    state = {"last": 0.0}
    t0 = time.monotonic()
    tty = sys.stderr.isatty()

    def show(stats, sim_t) -> None:
        now = time.monotonic()
        if now - state["last"] < 2.0:
            return
        state["last"] = now
        el = now - t0
        done = (sim_t - t_first) / total_sim if total_sim else 0
        eta = el / done * (1 - done) if done > 0 else float("inf")
        msg = (f"{stats.messages:,} messages ({stats.messages / el if el else 0:,.0f}/s), "
               f"simulated {datetime.fromtimestamp(sim_t, timezone.utc):%Y-%m-%d %H:%M} UTC, "
               f"{done * 100:.1f}% ETA {'--' if eta == float('inf') else f'{eta:.0f} s'}")
        sys.stderr.write(("\r" + msg + "   ") if tty else msg + "\n")
        sys.stderr.flush()
    return show


def _run_async(coro_factory) -> object:
    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        return await coro_factory(stop)
    return asyncio.run(main())


def cmd_run(args: argparse.Namespace, settings) -> int:
    from simulators import fleet  # lazy: paho-mqtt, needed only when publishing
    raise_fd_limit(args.homes + 4096)   # one connection per home (or device), and then some
    tz = args.tz or settings.default_tz
    speed = args.speed
    now = int(time.time())
    if args.days is not None:
        span = args.days * 86400
    elif args.duration is not None and speed > 0:
        span = args.duration * speed
    else:
        span = (365 if speed == 1 else 1) * 86400
    if args.start:
        try:
            st = datetime.fromisoformat(args.start)
        except ValueError:
            print(f"anju sim run: --start {args.start!r}: expected ISO 8601 with offset",
                  file=sys.stderr)
            return 2
        if st.tzinfo is None:
            print("anju sim run: --start needs a UTC offset", file=sys.stderr)
            return 2
        start = int(st.timestamp())
    elif speed == 1:
        start = now
    else:
        start = now - int(span)
    end = int(start + span)
    ep = resolve(settings)
    gateway_mode = args.gateway_mode or (args.homes > 200 and not args.device_mode)
    profiles = make_fleet(args.homes, args.seed, prefix=args.prefix, tz=tz,
                          persona_names=args.personas or None)
    creds = _creds_path(args, settings)
    t = time.perf_counter()
    with db.connect(ep.database_url) as conn:
        homes = fleet.provision(conn, profiles, credentials=creds, gateway_mode=gateway_mode,
                                community=args.community)
        conn.commit()
        _sync_broker(ep, conn)
    # reused homes keep their devices; the seed decides their days
    fresh = {p.code: p for p in profiles}
    homes = [replace(h, profile=replace(h.profile, seed=fresh[h.profile.code].seed,
                                        persona=fresh[h.profile.code].persona))
             for h in homes]
    print(f"{len(homes)} homes ready ({'gateway' if gateway_mode else 'device'} connections; "
          f"credentials in {creds}) in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    incs = {}
    if args.incidents_per_home_week:
        for h in homes:
            rng = random.Random(f"incidents:{args.seed}:{h.profile.code}")
            incs[h.profile.code] = incidents.random_for_home(h.profile, rng, start, end,
                                                             args.incidents_per_home_week)
    show = _progress_printer(end - start, start)

    async def go(stop):
        # the devices connect now: each says it is online, as the contract asks
        return await fleet.publish_fleet(ep.mqtt, homes, start, end, speed, incidents=incs,
                                         progress=show, stop=stop, announce=True)
    stats = _run_async(go)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    if args.ground_truth:
        with open(args.ground_truth, "w") as f:
            for h in homes:
                for i in incs.get(h.profile.code, []):
                    f.write(json.dumps(i.ground_truth(h.profile.tz), sort_keys=True) + "\n")
    print(json.dumps(stats.as_dict()))
    return 0


# -- replay -----------------------------------------------------------------------------

def cmd_replay(args: argparse.Namespace, settings) -> int:
    try:
        mapping = formats.read_map(args.map) if args.map else None
        tz = args.tz or (mapping.tz if mapping else None)
        if args.format == "kasteren":
            tz = tz or "Europe/Amsterdam"
        events = formats.read_log(args.file, args.format, tz=tz, names=args.names)
        if args.format != "generic" and mapping is None:
            raise formats.FormatError(f"{args.file}: the {args.format} format needs --map "
                                      "(which sensor is which kind and room)")
        events, unmapped = formats.apply_map(events, mapping, skip_unmapped=args.skip_unmapped,
                                             source=args.file)
    except formats.FormatError as e:
        print(f"anju sim replay: {e}", file=sys.stderr)
        return 2
    for name, n in sorted(unmapped.items()):
        print(f"skipped {n} events of unmapped sensor {name!r}", file=sys.stderr)
    if not events:
        print("anju sim replay: no events to replay", file=sys.stderr)
        return 2
    events.sort(key=lambda e: e.ts.timestamp())
    home = args.home or (mapping.home if mapping and mapping.home else None) or \
        "replay-" + formats.slug(Path(args.file).stem)
    zone_name = tz or settings.default_tz
    profiles, per_home = replay.homes_from_events(events, home, zone_name)
    first, last = events[0].ts, events[-1].ts
    if args.check or args.to_csv:
        if args.to_csv:
            Path(args.to_csv).write_text(formats.format_generic(
                formats.replace(e, home=e.home or home) for e in events))
        print(f"{len(events)} events, {sum(len(p.devices) for p in profiles)} devices in "
              f"{len(profiles)} home(s), {first.isoformat()} .. {last.isoformat()}")
        return 0
    from simulators import fleet  # lazy: paho-mqtt, needed only when publishing
    ep = resolve(settings)
    creds = _creds_path(args, settings)
    with db.connect(ep.database_url) as conn:
        homes = fleet.provision(conn, profiles, credentials=creds, gateway_mode=args.gateway_mode,
                                community="replay")
        conn.commit()
        _sync_broker(ep, conn)
    t_first, t_last = first.timestamp(), last.timestamp()
    now = time.time()
    shift = {"end": now - t_last, "start": now - t_first, "none": 0.0}[args.rebase]
    streams = [fleet.Stream(h.profile.code, list(h.profile.devices), h.gateway, h.passwords,
                            iter([per_home[h.profile.code]])) for h in homes]
    show = _progress_printer(t_last - t_first, t_first)

    async def go(stop):
        return await fleet.publish_streams(ep.mqtt, streams, t_first=t_first, speed=args.speed,
                                           shift=shift, progress=show, stop=stop)
    stats = _run_async(go)
    print(json.dumps(stats.as_dict()))
    return 0
