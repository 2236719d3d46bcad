"""`anju contact`, `anju duty`, `anju policy`: who the router tells, and when.

Commands import what they run when they run (`anju` registers every
command at start; the database driver and apprise are slow to import).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import time
from pathlib import Path

import psycopg

from anju import db
from anju.endpoints import resolve
from anju.settings import Settings


def _time(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HH:MM, got {text!r}") from None


def sync_db(s: Settings) -> psycopg.Connection:
    """A connection to the configured database, for the commands that read or write a row."""
    return db.connect(resolve(s).database_url)


def cmd_contact_add(args: argparse.Namespace, s: Settings) -> int:
    from alerts.contacts import ContactError, parse_span
    from alerts.manage import ContactSpec, add_contact

    try:
        spec = ContactSpec(role=args.role, name=args.name, urls=args.url, home=args.home,
                           community=args.community, lang=args.lang,
                           quiet=parse_span(args.quiet) if args.quiet else None,
                           daily_summary=args.daily_summary, summary_at=args.summary_at,
                           phone=args.phone, has_key=args.has_key)
        with sync_db(s) as conn:
            cid = add_contact(conn, spec)
    except ContactError as e:
        print(f"anju: {e}", file=sys.stderr)
        return 2
    print(f"contact {cid} added: {args.name} ({args.role}, {args.lang})")
    return 0


def cmd_contact_list(args: argparse.Namespace, s: Settings) -> int:
    from alerts.contacts import redact

    with sync_db(s) as conn:
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

    with sync_db(s) as conn:
        ok = remove_contact(conn, args.id)
    print(f"contact {args.id} removed" if ok else f"no contact {args.id}")
    return 0 if ok else 1


def cmd_duty_add(args: argparse.Namespace, s: Settings) -> int:
    from alerts.contacts import ContactError
    from alerts.manage import add_shift, parse_days

    try:
        with sync_db(s) as conn:
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
        with sync_db(s) as conn:
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

    with sync_db(s) as conn:
        found = effective_policies(conn, args.home)
    for sev, (pol, source) in found.items():
        steps = "; ".join(f"+{st.after_s}s {'+'.join(st.notify)}" for st in pol.steps) or \
            "daily summary only"
        rep = f", repeat every {pol.repeat_s}s" if pol.steps and pol.repeat_s else ""
        print(f"{sev:9} {steps}{rep}   ({source})")
    return 0


def register(cli) -> None:  # type: ignore[no-untyped-def]
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
    p.add_argument("--phone", help="a number the people on duty dial from an alert's page")
    p.add_argument("--has-key", action="store_true", help="holds a key to the home")
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
