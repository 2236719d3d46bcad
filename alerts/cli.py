"""`anju route`, `anju watchdog`, contacts, duty, policies, `anju alert ...`.

Router settings come from the environment until anju.settings has a
[router] table:
  ANJU_ROUTER_SECRET      signing key for ack links (default: generated into
                          <state_dir>/router-secret on first use)
  ANJU_ROUTER_PUBLIC_URL  base of ack links (default http://127.0.0.1:<http port>)
  ANJU_WATCHDOG_URLS      apprise URLs told when a service stops, space-separated
                          (used even when the database is down)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path

from anju.endpoints import resolve
from anju.settings import Settings


def _secret(s: Settings) -> bytes:
    from alerts.tokens import load_secret

    return load_secret(Path(s.state_dir), os.environ.get("ANJU_ROUTER_SECRET"))


def _watchdog_urls() -> list[str]:
    return os.environ.get("ANJU_WATCHDOG_URLS", "").split()


def _time(text: str):  # type: ignore[no-untyped-def]
    from datetime import time

    try:
        return time.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HH:MM, got {text!r}") from None


# -- the router -------------------------------------------------------------------
def cmd_route(args: argparse.Namespace, s: Settings) -> int:
    from alerts.http import AckServer
    from alerts.router import Router, RouterConfig

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log = logging.getLogger("anju.router")
    url = resolve(s).database_url
    public = os.environ.get("ANJU_ROUTER_PUBLIC_URL") or (
        f"http://127.0.0.1:{args.http_port}" if args.http_port else "http://127.0.0.1:8740")
    cfg = RouterConfig(secret=_secret(s), link_base=public, concurrency=args.concurrency,
                       poll_s=args.poll)
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
        ready = asyncio.Event()
        task = asyncio.create_task(router.run(stop, ready=ready))
        await asyncio.wait({task, asyncio.create_task(ready.wait())},
                           return_when=asyncio.FIRST_COMPLETED)
        server = None
        if args.http_port and not task.done():
            assert router.pool is not None
            server = AckServer(router.pool, cfg.secret, router.clock)
            port = await server.start(args.http_host, args.http_port)
            log.info("ack links on http://%s:%d/ack/<token> (public base %s)",
                     args.http_host, port, public)
        try:
            await task
        finally:
            if server is not None:
                await server.close()

    asyncio.run(main())
    return 0


def cmd_watchdog(args: argparse.Namespace, s: Settings) -> int:
    import psycopg

    from alerts import watchdog
    from alerts.messages import watchdog_message

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
        while not stop.is_set():
            await once()
            if args.once:
                return
            try:
                await asyncio.wait_for(stop.wait(), args.interval)
            except asyncio.TimeoutError:
                pass

    asyncio.run(main())
    return 0


# -- contacts, duty, policies -----------------------------------------------------------
def _sync(s: Settings):  # type: ignore[no-untyped-def]
    from anju import db

    return db.connect(resolve(s).database_url)


def cmd_contact_add(args: argparse.Namespace, s: Settings) -> int:
    from alerts.contacts import ContactError, parse_span
    from alerts.manage import ContactSpec, add_contact

    try:
        spec = ContactSpec(role=args.role, name=args.name, urls=args.url, home=args.home,
                           community=args.community, lang=args.lang,
                           quiet=parse_span(args.quiet) if args.quiet else None,
                           daily_summary=args.daily_summary, summary_at=args.summary_at)
        with _sync(s) as conn:
            cid = add_contact(conn, spec)
    except ContactError as e:
        print(f"anju: {e}", file=sys.stderr)
        return 2
    print(f"contact {cid} added: {args.name} ({args.role}, {args.lang})")
    return 0


def cmd_contact_list(args: argparse.Namespace, s: Settings) -> int:
    from alerts.contacts import redact

    with _sync(s) as conn:
        rows = conn.execute(
            "SELECT c.id, c.role, c.name, h.code, m.code, c.lang, c.urls, c.active,"
            " c.daily_summary, c.quiet_start, c.quiet_end"
            " FROM contacts c LEFT JOIN homes h ON h.id = c.home_id"
            " LEFT JOIN communities m ON m.id = c.community_id"
            " WHERE (%(h)s::text IS NULL OR h.code = %(h)s"
            "        OR c.community_id = (SELECT community_id FROM homes WHERE code = %(h)s))"
            "   AND (%(c)s::text IS NULL OR m.code = %(c)s)"
            " ORDER BY c.role, c.id", {"h": args.home, "c": args.community}).fetchall()
    for r in rows:
        quiet = f" quiet {r[9]:%H:%M}-{r[10]:%H:%M}" if r[9] else ""
        print(f"{r[0]:5} {r[1]:16} {r[2]:12} {r[3] or r[4] or '(all)':14} {r[5]:5} "
              f"{' '.join(redact(u) for u in r[6])}{quiet}"
              f"{' summary' if r[8] else ''}{'' if r[7] else ' (removed)'}")
    return 0


def cmd_contact_remove(args: argparse.Namespace, s: Settings) -> int:
    from alerts.manage import remove_contact

    with _sync(s) as conn:
        ok = remove_contact(conn, args.id)
    print(f"contact {args.id} removed" if ok else f"no contact {args.id}")
    return 0 if ok else 1


def cmd_duty_add(args: argparse.Namespace, s: Settings) -> int:
    from alerts.contacts import ContactError
    from alerts.manage import add_shift, parse_days

    try:
        with _sync(s) as conn:
            n = add_shift(conn, args.contact, parse_days(args.days), args.start, args.end)
    except ContactError as e:
        print(f"anju: {e}", file=sys.stderr)
        return 2
    print(f"{n} shift(s) added for contact {args.contact}")
    return 0


def cmd_policy_set(args: argparse.Namespace, s: Settings) -> int:
    from alerts.contacts import ContactError
    from alerts.manage import set_policy
    from alerts.policy import PolicyError, parse_steps

    try:
        if args.file:
            raw = json.loads(Path(args.file).read_text())
        else:
            raw = {"steps": parse_steps(args.steps or ""), "repeat_s": args.repeat}
            if args.max_cycles is not None:
                raw["max_cycles"] = args.max_cycles
        with _sync(s) as conn:
            pol = set_policy(conn, severity=args.severity, raw=raw, home=args.home,
                             community=args.community, by=os.environ.get("USER", ""))
    except (PolicyError, ContactError, json.JSONDecodeError, OSError) as e:
        print(f"anju: {e}", file=sys.stderr)
        return 2
    print(json.dumps(pol.to_json(), ensure_ascii=False))
    print("applies to alerts opened from now on; running escalations keep their policy")
    return 0


def cmd_policy_show(args: argparse.Namespace, s: Settings) -> int:
    from alerts.manage import effective_policies

    with _sync(s) as conn:
        found = effective_policies(conn, args.home)
    for sev, (pol, source) in found.items():
        steps = "; ".join(f"+{st.after_s}s {'+'.join(st.notify)}" for st in pol.steps) or \
            "daily summary only"
        rep = f", repeat every {pol.repeat_s}s" if pol.steps and pol.repeat_s else ""
        print(f"{sev:9} {steps}{rep}   ({source})")
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
    with _sync(s) as conn:
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

    from alerts.lifecycle import OUTCOMES

    p = cli.command("route", cmd_route, "run the alert router: escalate, deliver, acknowledge")
    p.add_argument("--worker", help="this router's name (default host:pid)")
    p.add_argument("--http-port", type=int, default=0,
                   help="serve acknowledgement links on this port (0: do not serve)")
    p.add_argument("--http-host", default="127.0.0.1")
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

    cp = cli.commands.add_parser("contact", help="people the router tells")
    cs = cp.add_subparsers(dest="contact_cmd", metavar="ACTION", required=True)
    p = cli.command("add", cmd_contact_add, "add a contact (apprise URLs checked)", cs)
    p.add_argument("--role", required=True,
                   choices=("family", "community_worker", "property", "operator"))
    p.add_argument("--name", required=True)
    p.add_argument("--url", action="append", required=True,
                   help="apprise URL; repeat for more channels, preferred first")
    p.add_argument("--home", help="home code (family, property)")
    p.add_argument("--community", help="community code (community_worker, property, operator)")
    p.add_argument("--lang", default="zh-CN", choices=("zh-CN", "en"))
    p.add_argument("--quiet", help="quiet hours for low severity, e.g. 22:00-07:00")
    p.add_argument("--daily-summary", action="store_true", help="send a daily summary (family)")
    p.add_argument("--summary-at", type=_time, default=_time("20:00"),
                   help="local time of the daily summary (default 20:00)")
    p = cli.command("list", cmd_contact_list, "list contacts", cs)
    p.add_argument("--home")
    p.add_argument("--community")
    p = cli.command("remove", cmd_contact_remove, "deactivate a contact", cs)
    p.add_argument("id", type=int)

    dp = cli.commands.add_parser("duty", help="community workers' duty rota")
    ds = dp.add_subparsers(dest="duty_cmd", metavar="ACTION", required=True)
    p = cli.command("add", cmd_duty_add, "add weekly shifts for a community worker", ds)
    p.add_argument("--contact", type=int, required=True)
    p.add_argument("--days", default="1-7", help="ISO weekdays, e.g. 1-5 or sat,sun")
    p.add_argument("--start", type=_time, required=True, help="HH:MM local")
    p.add_argument("--end", type=_time, required=True, help="HH:MM local (past midnight ok)")

    pp = cli.commands.add_parser("policy", help="escalation policies")
    ps = pp.add_subparsers(dest="policy_cmd", metavar="ACTION", required=True)
    p = cli.command("set", cmd_policy_set, "set a community's or home's policy for a severity", ps)
    p.add_argument("--severity", required=True, choices=("critical", "high", "medium", "low"))
    p.add_argument("--home")
    p.add_argument("--community")
    p.add_argument("--steps", help='e.g. "0:family,community_worker;600:property"')
    p.add_argument("--repeat", type=int, default=900, help="seconds before the chain repeats")
    p.add_argument("--max-cycles", type=int)
    p.add_argument("--file", help="the policy as JSON instead of --steps")
    p = cli.command("show", cmd_policy_show, "the policies that apply to a home", ps)
    p.add_argument("--home", required=True)

    ap = cli.commands.add_parser("alert", help="one alert: acknowledge, resolve, show")
    as_ = ap.add_subparsers(dest="alert_cmd", metavar="ACTION", required=True)
    p = cli.command("ack", cmd_alert_ack, "acknowledge an alert (stops its escalation)", as_)
    p.add_argument("id", type=int)
    p.add_argument("--by", required=True, help="who is taking responsibility")
    p.add_argument("--note")
    p.add_argument("--resolve", choices=OUTCOMES, help="resolve with this outcome instead")
    p = cli.command("show", cmd_alert_show, "an alert's escalation, events and deliveries", as_)
    p.add_argument("id", type=int)
