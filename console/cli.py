"""`anju console` (the web console) and `anju user add` (its users).

The console's settings are anju.settings' [console] table (ANJU_CONSOLE_*):
trusted_proxies, secure_cookies, inbox_url.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from alerts.tokens import load_secret
from anju.endpoints import resolve
from anju.settings import Settings


def cmd_console(args: argparse.Namespace, s: Settings) -> int:
    # Lazy: `anju` registers every command at start; the web stack loads when it is used.
    from console.app import ConsoleConfig, run

    cfg = ConsoleConfig(database_url=resolve(s).database_url,
                        read_url=s.database_read_url,
                        secure_cookies=args.secure_cookies or s.console.secure_cookies,
                        inbox_url=s.console.inbox_url,
                        trusted_proxies=s.console.trusted_proxies,
                        # the router's key (ANJU_ROUTER_SECRET or the state directory's):
                        # its messages' acknowledgement links are served here
                        ack_secret=load_secret(Path(s.state_dir),
                                               os.environ.get("ANJU_ROUTER_SECRET")))
    print(f"anju console: http://{args.host}:{args.port}/", flush=True)
    run(cfg, args.host, args.port)
    return 0


def _building(text: str) -> tuple[str, str]:
    community, sep, building = text.partition("/")
    if not sep or not community or not building:
        raise argparse.ArgumentTypeError(f"expected COMMUNITY/BUILDING, got {text!r}")
    return community, building


def cmd_user_add(args: argparse.Namespace, s: Settings) -> int:
    # Lazy, as above: the password checker (zxcvbn) and argon2 load only for this command.
    import psycopg

    from console.users import NewUser, UserError, add_user

    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    user = NewUser(username=args.username, name=args.name, role=args.role,
                   communities=tuple(args.community or ()), buildings=tuple(args.building or ()),
                   homes=tuple(args.home or ()), lang=args.lang)
    try:
        with psycopg.connect(resolve(s).database_url, autocommit=True) as conn:
            uid, password = add_user(conn, user, password)
    except UserError as e:
        print(f"anju: {e}", file=sys.stderr)
        return 2
    print(f"user {args.username} ({args.role}) added, id {uid}")
    if not args.password_stdin:
        print(f"password (shown once): {password}")
    return 0


def register(cli) -> None:  # type: ignore[no-untyped-def]
    p = cli.command("console", cmd_console, "serve the web console")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8750)
    p.add_argument("--secure-cookies", action="store_true",
                   help="mark cookies Secure (served behind https)")

    up = cli.commands.add_parser("user", help="console users")
    us = up.add_subparsers(dest="user_command", metavar="COMMAND")
    p = cli.command("add", cmd_user_add, "add a console user; prints a generated password once",
                    us)
    p.add_argument("username")
    p.add_argument("--name", required=True, help="the person's name, shown in the console")
    p.add_argument("--role", required=True, choices=("admin", "operator", "property", "family"))
    p.add_argument("--community", action="append", metavar="CODE",
                   help="operator: a community they look after (repeatable)")
    p.add_argument("--building", action="append", type=_building, metavar="COMMUNITY/BUILDING",
                   help="property: a building they manage (repeatable)")
    p.add_argument("--home", action="append", metavar="CODE",
                   help="family: their relative's home (repeatable)")
    p.add_argument("--lang", default="zh-CN", choices=("zh-CN", "en"))
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input")
