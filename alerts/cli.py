"""`anju route`, `anju watchdog`, `anju alert ...`; contacts, duty and policies are in
alerts.cli_contacts.

Router settings come from the environment until anju.settings has a
[router] table:
  ANJU_ROUTER_SECRET      signing key for ack links (default: generated into
                          <state_dir>/router-secret on first use; the console
                          reads the same to serve the links)
  ANJU_ROUTER_PUBLIC_URL  the console's public address, the base of ack links
                          (default http://127.0.0.1:8750, `anju console`'s own)
  ANJU_WATCHDOG_URLS      apprise URLs told when a service stops, space-separated
                          (used even when the database is down)

Commands import what they run when they run (`anju` registers every
command at start; the database pool and apprise are slow to import).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path

from alerts import cli_contacts
from alerts.cli_contacts import sync_db
from alerts.lifecycle import OUTCOMES
from alerts.tokens import load_secret
from anju.endpoints import resolve
from anju.settings import Settings


def _secret(s: Settings) -> bytes:
    return load_secret(Path(s.state_dir), os.environ.get("ANJU_ROUTER_SECRET"))


def _watchdog_urls() -> list[str]:
    return os.environ.get("ANJU_WATCHDOG_URLS", "").split()


# -- the router -------------------------------------------------------------------
def cmd_route(args: argparse.Namespace, s: Settings) -> int:
    from alerts.router import DEFAULT_LINK_BASE, Router, RouterConfig

    if args.http_port is not None:
        print("anju: the router no longer serves acknowledgement links; the console does "
              "(anju console). Set ANJU_ROUTER_PUBLIC_URL to the console's address "
              f"(default {DEFAULT_LINK_BASE}).", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    url = resolve(s).database_url
    public = os.environ.get("ANJU_ROUTER_PUBLIC_URL") or DEFAULT_LINK_BASE
    cfg = RouterConfig(secret=_secret(s), link_base=public, concurrency=args.concurrency,
                       poll_s=args.poll, send_timeout_s=args.send_timeout)
    if args.worker:
        cfg.worker = args.worker
    if args.community:
        from anju import db

        with db.connect(url) as conn:
            rows = conn.execute("SELECT id FROM communities WHERE code = ANY(%s)",
                                (args.community,)).fetchall()
        if len(rows) != len(set(args.community)):
            print(f"anju: unknown community among {', '.join(args.community)}", file=sys.stderr)
            return 2
        cfg.communities = [r[0] for r in rows]
    cfg.watchdog = not args.no_watchdog
    cfg.watchdog_stale_s = args.stale_s
    cfg.watchdog_urls = _watchdog_urls()
    cfg.unacked_critical_s = args.unacked_critical_min * 60
    router = Router(url, cfg)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await router.run(stop)

    asyncio.run(main())
    return 0


def cmd_watchdog(args: argparse.Namespace, s: Settings) -> int:
    import psycopg

    from alerts import watchdog
    from alerts.messages import watchdog_message
    from anju import sdnotify

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log = logging.getLogger("anju.watchdog")
    extra = _watchdog_urls()
    db_down_told = False

    async def once() -> None:
        nonlocal db_down_told
        now = datetime.now(timezone.utc)
        try:
            url = resolve(s).database_url
            async with await psycopg.AsyncConnection.connect(url, autocommit=True,
                                                             connect_timeout=10) as conn:
                report = await watchdog.check(conn, now, stale_s=args.stale_s, extra_urls=extra)
            db_down_told = False
            for svc, last in report.stale:
                log.warning("%s stopped (last heartbeat %s); %d told", svc, last, report.told)
            for svc in report.recovered:
                log.info("%s working again", svc)
        except psycopg.OperationalError as e:
            log.error("database unreachable: %s", e)
            if not db_down_told or args.once:
                title, body = watchdog_message([("database", None)], [], now)
                db_down_told = await watchdog.tell(extra, title, body + f"\n{e}"[:300],
                                                   f"watchdog-db-{now:%Y%m%dT%H%M}") > 0

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if not args.once:
            sdnotify.ready()
        while not stop.is_set():
            await once()
            if args.once:
                return
            sdnotify.watchdog()     # a check completed (anju.sdnotify)
            try:
                await asyncio.wait_for(stop.wait(), args.interval)
            except asyncio.TimeoutError:
                pass

    asyncio.run(main())
    return 0


# -- alerts -----------------------------------------------------------------------------
def _async_conn(s: Settings):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.AsyncConnection.connect(resolve(s).database_url)


def cmd_alert_ack(args: argparse.Namespace, s: Settings) -> int:
    from alerts import store

    async def go() -> store.AckResult:
        async with await _async_conn(s) as conn:
            if args.resolve:
                return await store.resolve(conn, args.id, actor=args.by, outcome=args.resolve,
                                         channel="cli", note=args.note)
            return await store.acknowledge(conn, args.id, actor=args.by, channel="cli",
                                         note=args.note)

    try:
        r = asyncio.run(go())
    except (store.AlertNotFound, ValueError) as e:
        print(f"anju: {e}", file=sys.stderr)
        return 2
    if r.changed:
        print(f"alert {r.alert_id} {r.state} by {args.by}")
    else:
        print(f"alert {r.alert_id} was already {r.state} "
              f"(by {r.acknowledged_by or r.resolved_by}); nothing changed")
    return 0


def cmd_alert_show(args: argparse.Namespace, s: Settings) -> int:
    with sync_db(s) as conn:
        a = conn.execute(
            "SELECT a.id, h.code, a.kind, a.severity, a.state, a.opened_at, a.summary_zh,"
            " e.policy_source, e.state, e.cycle, e.next_step, e.due_at"
            " FROM alerts a JOIN homes h ON h.id = a.home_id"
            " LEFT JOIN alert_escalations e ON e.alert_id = a.id WHERE a.id = %s",
            (args.id,)).fetchone()
        if a is None:
            print(f"anju: no alert {args.id}", file=sys.stderr)
            return 2
        print(f"alert {a[0]} {a[1]} {a[2]} {a[3]} {a[4]} opened {a[5]:%Y-%m-%d %H:%M:%S%z}")
        print(f"  {a[6]}")
        if a[7]:
            print(f"  escalation ({a[7]}): {a[8]}, round {a[9] + 1} step {a[10] + 1}"
                  f"{f' due {a[11]:%H:%M:%S}' if a[11] else ''}")
        print("events:")
        for r in conn.execute("SELECT at, action, actor, channel, note FROM alert_events"
                              " WHERE alert_id = %s ORDER BY at, id", (args.id,)):
            print(f"  {r[0]:%H:%M:%S} {r[1]:12} {r[2]:20} {r[3]:8} {r[4] or ''}")
        print("deliveries:")
        for r in conn.execute(
                "SELECT d.key, c.name, d.status, d.channel, d.tries,"
                " (SELECT string_agg(to_char(t.started_at, 'HH24:MI:SS') || ' ' || t.target || ' '"
                "   || CASE WHEN t.ok THEN 'ok' WHEN t.ok IS NULL THEN coalesce(t.error, '…')"
                "      ELSE coalesce(t.error, 'failed') END, '; ' ORDER BY t.id)"
                "  FROM delivery_attempts t WHERE t.delivery_id = d.id)"
                " FROM deliveries d JOIN contacts c ON c.id = d.contact_id"
                " WHERE d.alert_id = %s ORDER BY d.id", (args.id,)):
            print(f"  {r[0]:22} {r[1]:12} {r[2]:11} {r[5] or ''}")
    return 0


def register(cli) -> None:  # type: ignore[no-untyped-def]
    from anju.cli import positive_int

    p = cli.command("route", cmd_route, "run the alert router: escalate, deliver, acknowledge")
    p.add_argument("--worker", help="this router's name (default host:pid)")
    # the console serves acknowledgement links now: the option only says so
    p.add_argument("--http-port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--http-host", help=argparse.SUPPRESS)
    p.add_argument("--send-timeout", type=float, default=60,
                   help="seconds a send may take before it counts as failed (default 60)")
    p.add_argument("--concurrency", type=positive_int, default=8, help="parallel sends")
    p.add_argument("--poll", type=float, default=1.0, help="poll interval, seconds")
    p.add_argument("--community", action="append",
                   help="serve only this community (repeatable; default: all)")
    p.add_argument("--no-watchdog", action="store_true", help="do not check other services")
    p.add_argument("--stale-s", type=float, default=90,
                   help="a service without a heartbeat this long has stopped (default 90)")
    p.add_argument("--unacked-critical-min", type=positive_int, default=5,
                   help="tell the operators of a critical alert nobody acknowledged this many"
                        " minutes (default 5; a community's own setting wins)")

    p = cli.command("watchdog", cmd_watchdog,
                    "tell operators when ingest, detectors or routers stop (independent process)")
    p.add_argument("--once", action="store_true", help="check once and exit (for cron)")
    p.add_argument("--interval", type=float, default=30)
    p.add_argument("--stale-s", type=float, default=90)

    cli_contacts.register(cli)

    ap = cli.commands.add_parser("alert", help="one alert: acknowledge, resolve, show")
    as_ = ap.add_subparsers(dest="alert_cmd", metavar="ACTION", required=True)
    p = cli.command("ack", cmd_alert_ack, "acknowledge an alert (stops its escalation)", as_)
    p.add_argument("id", type=int)
    p.add_argument("--by", required=True, help="who is taking responsibility")
    p.add_argument("--note")
    p.add_argument("--resolve", choices=OUTCOMES, help="resolve with this outcome instead")
    p = cli.command("show", cmd_alert_show, "an alert's escalation, events and deliveries", as_)
    p.add_argument("id", type=int)
