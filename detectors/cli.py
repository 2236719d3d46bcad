"""`anju detect`, `anju away`, `anju detector`, `anju alerts`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from psycopg.types.json import Jsonb

from anju import db
from anju.cli import positive_int
from anju.endpoints import resolve
from anju.settings import Settings
from detectors.config import ConfigError, from_dict


def cmd_detect(args: argparse.Namespace, s: Settings) -> int:
    # loaded when the service is run, not whenever `anju` starts (every command's module is
    # imported to register it)
    from detectors.service import DetectorService

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # partitioned (several detectors share the homes) by the settings or --partitions
    partitions = args.partitions or (s.detect.partitions if s.detect.partitioned else 0)
    if args.lease_s is not None and args.lease_s < 3:
        raise SystemExit("anju: --lease-s must be at least 3 (renewed every third of it)")
    service = DetectorService(resolve(s).database_url, partitions=partitions,
                              lease_s=float(args.lease_s or s.detect.lease_s))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await service.run(stop)

    asyncio.run(main())
    return 0


def _home_id(conn, code: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    row = conn.execute("SELECT id, tz FROM homes WHERE code = %s", (code,)).fetchone()
    if not row:
        raise SystemExit(f"anju: home {code!r} does not exist")
    return row[0], row[1]


def _local_time(text: str, tz: str) -> datetime:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"anju: {text!r}: expected a date or time such as 2026-12-01 "
                         "or 2026-12-01T18:00 (in the home's time zone)") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=ZoneInfo(tz))


def cmd_away(args: argparse.Namespace, s: Settings) -> int:
    with db.connect(resolve(s).database_url) as conn:
        hid, tz = _home_id(conn, args.home)
        now = datetime.now(timezone.utc)
        if args.action == "set":
            start = _local_time(args.start, tz) if args.start else now
            end = _local_time(args.until, tz) if args.until else None
            if end is not None and end <= start:
                raise SystemExit("anju: --until must be after the start")
            conn.execute("INSERT INTO home_away (home_id, starts_at, ends_at, reason, set_by)"
                         " VALUES (%s, %s, %s, %s, %s)", (hid, start, end, args.reason, "cli"))
            print(f"{args.home} away from {start.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M}"
                  f" until {end.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M}" if end else
                  f"{args.home} away from {start.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M}"
                  " until cleared")
        else:
            n = conn.execute("UPDATE home_away SET ends_at = %s WHERE home_id = %s AND"
                             " (ends_at IS NULL OR ends_at > %s)", (now, hid, now)).rowcount
            print(f"{args.home}: {n} away period(s) ended")
    return 0


def cmd_detector_set(args: argparse.Namespace, s: Settings) -> int:
    settings: dict[str, object] = {}
    for item in args.settings:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"anju: {item!r}: expected KEY=VALUE, e.g. inactivity.floor_min=90")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    try:
        from_dict(settings)
    except ConfigError as e:
        raise SystemExit(f"anju: {e}") from None
    with db.connect(resolve(s).database_url) as conn:
        if args.home:
            scope, sid = "home", _home_id(conn, args.home)[0]
        else:
            row = conn.execute("SELECT id FROM communities WHERE code = %s",
                               (args.community,)).fetchone()
            if not row:
                raise SystemExit(f"anju: community {args.community!r} does not exist")
            scope, sid = "community", row[0]
        old = conn.execute("SELECT settings FROM detector_settings WHERE scope = %s AND"
                           " scope_id = %s", (scope, sid)).fetchone()
        merged = {**(old[0] if old else {}), **settings}
        try:
            from_dict(merged)  # the settings together must make sense too
        except ConfigError as e:
            raise SystemExit(f"anju: {e}") from None
        conn.execute("INSERT INTO detector_settings (scope, scope_id, settings) VALUES (%s,%s,%s)"
                     " ON CONFLICT (scope, scope_id) DO UPDATE SET settings = EXCLUDED.settings,"
                     " updated_at = now()", (scope, sid, Jsonb(merged)))
    print(f"{scope} settings: {json.dumps(merged, ensure_ascii=False)}")
    return 0


def cmd_alerts(args: argparse.Namespace, s: Settings) -> int:
    lang = "summary_en" if args.lang == "en" else "summary_zh"
    with db.connect(resolve(s).database_url) as conn:
        rows = conn.execute(
            f"SELECT a.id, h.code, h.tz, a.kind, a.severity, a.state, a.opened_at, a.{lang}"
            " FROM alerts a JOIN homes h ON h.id = a.home_id"
            " WHERE %s OR a.state <> 'resolved' ORDER BY a.opened_at DESC LIMIT %s",
            (args.all, args.lines)).fetchall()
    for aid, code, tz, kind, sev, state, opened, text in rows:
        print(f"#{aid:<6} {opened.astimezone(ZoneInfo(tz)):%m-%d %H:%M} {code:14} {sev:8} "
              f"{state:12} {kind:16} {text}")
    return 0


def register(cli) -> None:  # type: ignore[no-untyped-def]
    p = cli.command("detect", cmd_detect, "run the detectors: readings and time in, alerts out")
    p.add_argument("--partitions", type=positive_int, metavar="P",
                   help="share the homes with other detectors: P partitions under leases "
                        "(the same P for all; default: detect.partitions when "
                        "detect.partitioned is on, else one detector watches every home)")
    p.add_argument("--lease-s", type=positive_int, metavar="SECONDS",
                   help="partition lease time (default detect.lease_s, 30)")

    p = cli.command("away", cmd_away, "mark a resident away (holiday, hospital) or back")
    p.add_argument("action", choices=("set", "clear"))
    p.add_argument("--home", required=True)
    p.add_argument("--start", help="start, in the home's time zone (default now)")
    p.add_argument("--until", help="end, in the home's time zone (default: until cleared)")
    p.add_argument("--reason", default="", help="holiday, hospital, staying with family, ...")

    dp = cli.commands.add_parser("detector", help="detector settings per home or community")
    ds = dp.add_subparsers(dest="detector_cmd", metavar="ACTION", required=True)
    p = cli.command("set", cmd_detector_set, "change detector settings (validated)", ds)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--home")
    g.add_argument("--community")
    p.add_argument("settings", nargs="+", metavar="KEY=VALUE")

    p = cli.command("alerts", cmd_alerts, "list open alerts (--all: recent ones too)")
    p.add_argument("--all", action="store_true")
    p.add_argument("--lang", choices=("zh-CN", "en"), default="zh-CN")
    p.add_argument("-n", "--lines", type=positive_int, default=30)
