"""The `anju` command line.

Core commands (servers, schema, provisioning) live here. Each service adds its
own commands through the `anju.cli` entry-point group, so this package never
imports the services: an entry point is a `register(cli: CommandLine)` function.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

import psycopg

from anju import broker, contract_cli, db, maintenance, rabbitmq_users, registry
from anju.cluster import cli as cluster_cli
from anju.contract import DEVICE_KINDS, ROOMS
from anju.embedded import Stack, StackError
from anju.endpoints import resolve
from anju.settings import Settings, SettingsError, load, redact

Handler = Callable[[argparse.Namespace, Settings], int]


@dataclass
class CommandLine:
    parser: argparse.ArgumentParser
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]"
    bench: "argparse._SubParsersAction[argparse.ArgumentParser]"
    groups: "dict[str, argparse._SubParsersAction[argparse.ArgumentParser]]" = field(
        default_factory=dict)

    def group(self, name: str, help: str) -> "argparse._SubParsersAction[argparse.ArgumentParser]":
        """The sub-commands of `anju NAME`, made on first use: several modules add to one
        group (`anju device add` here, `anju device check` in ingest) whatever their order."""
        if name not in self.groups:
            p = self.commands.add_parser(name, help=help)
            self.groups[name] = p.add_subparsers(dest=f"{name}_cmd", metavar="ACTION",
                                                 required=True)
        return self.groups[name]

    def command(self, name: str, handler: Handler, help: str,
                group: "argparse._SubParsersAction[argparse.ArgumentParser] | None" = None,
                ) -> argparse.ArgumentParser:
        p = (group or self.commands).add_parser(name, help=help, description=help)
        p.set_defaults(handler=handler)
        return p


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {value}")
    return value


# -- servers -----------------------------------------------------------------
def cmd_up(args: argparse.Namespace, s: Settings) -> int:
    if not s.embedded:
        print("external servers are configured (ANJU_DATABASE_URL / ANJU_MQTT_URL): "
              "nothing to start")
        ep = resolve(s)
    else:
        stack = Stack(s.state_dir)
        creds = stack.up()
        ep = resolve(s)
        print(f"PostgreSQL  127.0.0.1:{creds.pg_port}  (data in {stack.pg_data})")
        print(f"Mosquitto   127.0.0.1:{creds.mqtt_port}  (data in {stack.mqtt_dir})")
    applied = db.migrate(ep.database_url)
    print(f"schema: {', '.join(applied) if applied else 'up to date'}")
    if ep.stack is not None:
        _sync_broker(ep.database_url, ep.stack)
    return 0


def cmd_down(args: argparse.Namespace, s: Settings) -> int:
    if not s.embedded:
        print("external servers are configured: anju started nothing, so stops nothing")
        return 0
    stack = Stack(s.state_dir)
    stack.down()
    print("stopped")
    if args.purge and stack.relocated:
        shutil.rmtree(stack.server_dir, ignore_errors=True)
        print(f"deleted the servers' data in {stack.server_dir}")
    return 0


def cmd_status(args: argparse.Namespace, s: Settings) -> int:
    if s.embedded:
        info = Stack(s.state_dir).status()
        if info.get("initialised"):
            try:
                info["schema_version"] = db.schema_version(resolve(s).database_url)
            except Exception as e:  # the database may be down: report, do not fail
                info["schema_version"] = f"unavailable ({type(e).__name__})"
    else:
        info = {"mode": "external", "database": redact(s.database_url or ""),
                "mqtt": redact(s.mqtt_url or "")}
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key:15} {value}")
    return 0


def cmd_migrate(args: argparse.Namespace, s: Settings) -> int:
    applied = db.migrate(resolve(s).database_url)
    print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
    return 0


def cmd_maintain(args: argparse.Namespace, s: Settings) -> int:
    async def once() -> maintenance.MaintenanceReport | None:
        async with await psycopg.AsyncConnection.connect(resolve(s).database_url) as conn:
            return await maintenance.run(conn, retention_days=s.retention_days,
                                         rollup_retention_days=s.rollup_retention_days)

    report = asyncio.run(once())
    if report is None:
        print("another process is maintaining the database right now; nothing done")
        return 0
    print(f"TimescaleDB license: {report.license}")
    print(f"rollups: {report.rollup_rows} rows of 15 minutes, up to {report.rolled_up_to}")
    print(f"retention: raw {s.retention_days} days, rollups {s.rollup_retention_days} days, "
          f"by {report.retention}; {report.dropped_chunks} chunks dropped, "
          f"{report.rejected_deleted} old rejected messages deleted")
    return 0


# -- provisioning ------------------------------------------------------------
def _sync_broker(database_url: str, stack: Stack | None) -> None:
    if os.environ.get("ANJU_RABBITMQ_API"):
        # the clustered broker: the new device's user is there before its password is shown
        try:
            _sync_rabbitmq(database_url)
        except rabbitmq_users.ApiError as e:
            print(f"anju: the device is registered, but RabbitMQ was not updated ({e}); run "
                  "`anju broker sync --rabbitmq` before the device connects", file=sys.stderr)
    if stack is None:
        return
    with db.connect(database_url) as conn:
        hashes = registry.broker_user_hashes(conn)
    stack.write_broker_files(hashes)
    stack.reload_broker()


def cmd_home_add(args: argparse.Namespace, s: Settings) -> int:
    ep = resolve(s)
    with db.connect(ep.database_url) as conn:
        registry.add_home(conn, code=args.code, community=args.community, resident=args.resident,
                          address=args.address, building=args.building, tz=args.tz or s.default_tz,
                          phone=args.phone)
    print(f"home {args.code} added")
    return 0


def cmd_home_phone(args: argparse.Namespace, s: Settings) -> int:
    ep = resolve(s)
    with db.connect(ep.database_url) as conn:
        registry.set_home_phone(conn, args.code, args.phone or None)
    print(f"home {args.code}: phone {args.phone or '(none)'}")
    return 0


def cmd_home_import(args: argparse.Namespace, s: Settings) -> int:
    ep = resolve(s)
    with db.connect(ep.database_url) as conn:
        n = registry.import_homes(conn, Path(args.file), default_tz=s.default_tz)
    print(f"{n} homes imported from {args.file}")
    return 0


def cmd_home_list(args: argparse.Namespace, s: Settings) -> int:
    with db.connect(resolve(s).database_url) as conn:
        rows = conn.execute(
            "SELECT h.code, c.code, h.resident_name, h.building, h.tz,"
            " (SELECT count(*) FROM devices d WHERE d.home_id = h.id)"
            " FROM homes h JOIN communities c ON c.id = h.community_id ORDER BY h.code").fetchall()
    print(f"{'home':16} {'community':12} {'resident':12} {'building':10} {'tz':16} devices")
    for r in rows:
        print(f"{r[0]:16} {r[1]:12} {r[2]:12} {r[3]:10} {r[4]:16} {r[5]}")
    return 0


def cmd_device_add(args: argparse.Namespace, s: Settings) -> int:
    ep = resolve(s)
    with db.connect(ep.database_url) as conn:
        dev = registry.add_device(conn, home=args.home, kind=args.kind, room=args.room,
                                  uid=args.uid, vendor=args.vendor, model=args.model,
                                  heartbeat_s=args.heartbeat, gateway=args.gateway,
                                  external_name=args.external_name)
    _sync_broker(ep.database_url, ep.stack)
    print(f"device {dev.uid} ({dev.kind}, {dev.room}) added to home {dev.home_code}")
    if dev.password:
        print("broker credentials (shown once, store them in the device now):")
        print(f"  username: {dev.uid}")
        print(f"  password: {dev.password}")
        print(f"  topics:   anju/v1/devices/{dev.uid}/<kind>|batch|status")
    else:
        print(f"reached through gateway {args.gateway} as {args.external_name!r}")
    return 0


def cmd_device_list(args: argparse.Namespace, s: Settings) -> int:
    with db.connect(resolve(s).database_url) as conn:
        rows = conn.execute(
            "SELECT d.uid, h.code, d.kind, d.room, d.last_seen, d.battery_pct, d.online"
            " FROM devices d JOIN homes h ON h.id = d.home_id"
            " WHERE %s::text IS NULL OR h.code = %s ORDER BY h.code, d.uid",
            (args.home, args.home)).fetchall()
    print(f"{'device':32} {'home':12} {'kind':10} {'room':12} {'last seen':26} battery online")
    for r in rows:
        print(f"{r[0]:32} {r[1]:12} {r[2]:10} {r[3]:12} {str(r[4] or '-'):26} "
              f"{'-' if r[5] is None else f'{r[5]:.0f}%':7} {r[6]}")
    return 0


def _sync_rabbitmq(database_url: str) -> rabbitmq_users.SyncReport:
    api = rabbitmq_users.ManagementApi.parse(os.environ.get("ANJU_RABBITMQ_API", ""))
    with db.connect(database_url) as conn:
        users = registry.rabbit_users(conn)
    return rabbitmq_users.sync(api, users)


def cmd_broker_sync(args: argparse.Namespace, s: Settings) -> int:
    ep = resolve(s)
    if args.rabbitmq:
        try:
            r = _sync_rabbitmq(ep.database_url)
        except rabbitmq_users.ApiError as e:
            print(f"anju: {e}", file=sys.stderr)
            return 2
        print(f"RabbitMQ device users: {r.added} added, {r.updated} updated, {r.deleted} "
              f"deleted, {r.unchanged} unchanged")
        if r.no_hash:
            print(f"{len(r.no_hash)} devices were provisioned before RabbitMQ hashes were kept "
                  f"(e.g. {r.no_hash[0]}): add them again to give them credentials for the "
                  "cluster", file=sys.stderr)
        return 0
    with db.connect(ep.database_url) as conn:
        hashes = registry.broker_user_hashes(conn)
    if ep.stack is not None and not args.password_file:
        _sync_broker(ep.database_url, ep.stack)
        print(f"broker credentials synced: {len(hashes)} devices; Mosquitto reloaded")
        return 0
    if not args.password_file or not args.acl_file:
        print("with external servers, give --password-file and --acl-file to write; then "
              "reload Mosquitto (SIGHUP)", file=sys.stderr)
        return 2
    broker.write_password_file(Path(args.password_file), hashes)
    broker.write_acl_file(Path(args.acl_file))
    print(f"wrote {len(hashes)} device credentials to {args.password_file} and the ACL to "
          f"{args.acl_file}; add the service users with mosquitto_passwd, then send SIGHUP")
    return 0


# -- looking at data ---------------------------------------------------------
def cmd_readings_tail(args: argparse.Namespace, s: Settings) -> int:
    ep = resolve(s)
    last = None
    with db.connect(ep.database_url, autocommit=True) as conn:
        while True:
            rows = conn.execute(
                "SELECT r.ts, h.code, h.tz, d.uid, d.room, k.name, r.value, r.seq"
                " FROM readings r JOIN devices d ON d.id = r.device_id"
                " JOIN homes h ON h.id = d.home_id JOIN reading_kinds k ON k.code = r.kind"
                " WHERE (%(home)s::text IS NULL OR h.code = %(home)s)"
                "   AND (%(since)s::timestamptz IS NULL OR r.ts > %(since)s)"
                "   AND r.ts > now() - interval '2 days'"
                " ORDER BY r.ts DESC LIMIT %(n)s",
                {"home": args.home, "since": last, "n": args.lines}).fetchall()
            for ts, home, tz, uid, room, kind, value, seq in reversed(rows):
                local = ts.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S%z")
                print(f"{local}  {home:12} {room:12} {kind:11} {value:10g}  {uid}#{seq}")
            if rows:
                last = rows[0][0]
            if not args.follow:
                return 0
            sys.stdout.flush()
            time.sleep(1)


def shown_bytes(payload: bytes, limit: int = 120) -> str:
    """Any bytes as one safe line: UTF-8 where it is, escapes for the rest."""
    text = payload[:limit].decode("utf-8", "backslashreplace")
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
    return text + (f" … ({len(payload)} bytes)" if len(payload) > limit else "")


def cmd_rejected(args: argparse.Namespace, s: Settings) -> int:
    with db.connect(resolve(s).database_url) as conn:
        counts = conn.execute(
            "SELECT device_uid, reason, sum(n), sum(kept) FROM rejected_counts"
            " WHERE hour >= date_trunc('hour', now()) - interval '1 hour'"
            " GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 20").fetchall()
        rows = conn.execute(
            "SELECT received_at, topic, reason, substring(payload FROM 1 FOR 200),"
            " coalesce(payload_len, length(payload))"
            " FROM rejected_messages ORDER BY id DESC LIMIT %s", (args.lines,)).fetchall()
    if counts:
        print("rejected in the last hour (kept: rows below; the rest only counted):")
        for uid, reason, n, kept in counts:
            print(f"  device {uid or '(none)'}: {n:,} rejected ({kept:,} kept), reason: {reason}")
        print()
    for r in reversed(rows):
        print(f"{r[0]:%Y-%m-%d %H:%M:%S}  {shown_bytes(r[1].encode())}\n    reason: "
              f"{shown_bytes(r[2].encode(), 500)}\n    payload: {shown_bytes(bytes(r[3]))}"
              + (f" (of {r[4]} bytes)" if r[4] > len(bytes(r[3])) else ""))
    return 0


# -- assembly ----------------------------------------------------------------
def build() -> CommandLine:
    parser = argparse.ArgumentParser(prog="anju", description="anju (安居): home-safety "
                                     "monitoring for elderly people who live alone")
    parser.add_argument("--config", help="TOML config file (default: ANJU_CONFIG or ./anju.toml)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    bench_parser = commands.add_parser("bench", help="benchmarks that print figures")
    bench = bench_parser.add_subparsers(dest="bench", metavar="WHAT")
    cli = CommandLine(parser, commands, bench)

    cli.command("up", cmd_up, "start the embedded PostgreSQL and Mosquitto and migrate")
    cli.command("down", cmd_down, "stop the embedded servers").add_argument(
        "--purge", action="store_true",
        help="also delete the servers' data kept outside the state directory")
    cli.command("status", cmd_status, "show what runs where").add_argument(
        "--json", action="store_true")

    dbp = commands.add_parser("db", help="database schema")
    dbs = dbp.add_subparsers(dest="db", metavar="ACTION", required=True)
    cli.command("migrate", cmd_migrate, "apply pending migrations", dbs)
    cli.command("maintain", cmd_maintain, "roll up readings and apply retention now", dbs)

    hp = commands.add_parser("home", help="homes")
    hs = hp.add_subparsers(dest="home_cmd", metavar="ACTION", required=True)
    p = cli.command("add", cmd_home_add, "add a home", hs)
    p.add_argument("code")
    p.add_argument("--community", required=True, help="community code (created if new)")
    p.add_argument("--resident", required=True)
    p.add_argument("--address", default="")
    p.add_argument("--building", default="")
    p.add_argument("--tz", help="IANA time zone (default: settings.default_tz)")
    p.add_argument("--phone", help="the resident's own number, shown to the people on duty")
    p = cli.command("phone", cmd_home_phone, "set (or with \"\" clear) the resident's number", hs)
    p.add_argument("code")
    p.add_argument("phone", help='e.g. 023-6388-1234; "" clears it')
    p = cli.command("import", cmd_home_import, "add homes from a CSV file", hs)
    p.add_argument("file", help="CSV with header code,community,resident[,address,building,tz]")
    cli.command("list", cmd_home_list, "list homes", hs)

    ds = cli.group("device", "devices")
    p = cli.command("add", cmd_device_add, "register a device; prints its credentials once", ds)
    p.add_argument("--home", required=True)
    p.add_argument("--kind", required=True, choices=sorted(DEVICE_KINDS))
    p.add_argument("--room", default="other", choices=ROOMS)
    p.add_argument("--uid", help="device id (default: generated from home, kind and room)")
    p.add_argument("--vendor", default="")
    p.add_argument("--model", default="")
    p.add_argument("--heartbeat", type=positive_int, default=900, help="seconds (default 900)")
    p.add_argument("--gateway", help="uid of the gateway (zigbee2mqtt bridge) it is behind")
    p.add_argument("--external-name", help="its name on the gateway (zigbee2mqtt friendly name)")
    p = cli.command("list", cmd_device_list, "list devices", ds)
    p.add_argument("--home")

    bp = commands.add_parser("broker", help="broker credentials and ACLs")
    bs = bp.add_subparsers(dest="broker_cmd", metavar="ACTION", required=True)
    p = cli.command("sync", cmd_broker_sync, "write device credentials and ACLs for the broker", bs)
    p.add_argument("--password-file")
    p.add_argument("--acl-file")
    p.add_argument("--rabbitmq", action="store_true",
                   help="the clustered broker instead: device users on RabbitMQ through its "
                        "management API, from ANJU_RABBITMQ_API (http://USER:PASSWORD@HOST:15672)")

    rp = commands.add_parser("readings", help="stored readings")
    rs = rp.add_subparsers(dest="readings_cmd", metavar="ACTION", required=True)
    p = cli.command("tail", cmd_readings_tail, "show the latest readings", rs)
    p.add_argument("--home")
    p.add_argument("-n", "--lines", type=positive_int, default=20)
    p.add_argument("-f", "--follow", action="store_true")
    p = cli.command("rejected", cmd_rejected, "show the latest rejected messages", rs)
    p.add_argument("-n", "--lines", type=positive_int, default=20)

    contract_cli.register(cli)
    cluster_cli.register(cli)
    for ep in sorted(entry_points(group="anju.cli"), key=lambda e: e.name):
        ep.load()(cli)
    return cli


def main(argv: list[str] | None = None) -> int:
    cli = build()
    args = cli.parser.parse_args(argv)
    if not getattr(args, "handler", None):
        cli.parser.print_help()
        return 2
    try:
        settings = load(args.config)
        return int(args.handler(args, settings) or 0)
    except (SettingsError, registry.ProvisioningError, StackError) as e:
        print(f"anju: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
