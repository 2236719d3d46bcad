"""Managing contacts, duty rotas and policies (for the CLI and the console).

Functions take a psycopg connection and run in the caller's transaction.
Everything is validated before it is stored: an apprise URL that apprise
cannot parse is refused here, with apprise's reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any, Sequence

import psycopg
from psycopg.types.json import Jsonb

from alerts import policy as policies
from alerts.contacts import LANGS, ContactError, check_url
from anju import registry

ROLES = ("family", "community_worker", "property", "operator")


@dataclass(frozen=True)
class ContactSpec:
    role: str
    name: str
    urls: Sequence[str]
    home: str | None = None           # home code (family, property)
    community: str | None = None      # community code (community_worker, property, operator)
    lang: str = "zh-CN"
    quiet: tuple[time, time] | None = None
    daily_summary: bool = False
    summary_at: time = time(20)
    phone: str | None = None          # a number the people on duty dial (tel: link)
    has_key: bool = False             # holds a key to the home


def _home_id(conn: psycopg.Connection, code: str) -> tuple[int, int]:
    row = conn.execute("SELECT id, community_id FROM homes WHERE code = %s", (code,)).fetchone()
    if row is None:
        raise ContactError(f"home {code!r} does not exist (anju home list)")
    return int(row[0]), int(row[1])


def _community_id(conn: psycopg.Connection, code: str) -> int:
    row = conn.execute("SELECT id FROM communities WHERE code = %s", (code,)).fetchone()
    if row is None:
        raise ContactError(f"community {code!r} does not exist")
    return int(row[0])


def add_contact(conn: psycopg.Connection, spec: ContactSpec) -> int:
    """Store a contact; ContactError naming the field and the fix if anything is wrong."""
    if spec.role not in ROLES:
        raise ContactError(f"role {spec.role!r}: expected one of {', '.join(ROLES)}")
    if not spec.name.strip():
        raise ContactError("name: expected the person's name")
    if spec.lang not in LANGS:
        raise ContactError(f"lang {spec.lang!r}: expected one of {', '.join(LANGS)}")
    if not spec.urls:
        raise ContactError("give at least one apprise URL (--url), preferred first")
    urls = [check_url(u) for u in spec.urls]
    try:
        phone = registry.check_phone(spec.phone)
    except registry.ProvisioningError as e:
        raise ContactError(str(e)) from None
    home_id = community_id = None
    if spec.role == "family":
        if not spec.home or spec.community:
            raise ContactError("a family member belongs to a home: give --home (not --community)")
        home_id, _ = _home_id(conn, spec.home)
    elif spec.role == "community_worker":
        if not spec.community or spec.home:
            raise ContactError("a community worker belongs to a community: give --community")
        community_id = _community_id(conn, spec.community)
    elif spec.role == "property":
        if bool(spec.home) == bool(spec.community):
            raise ContactError("property management: give --home or --community (one of them)")
        if spec.home:
            home_id, _ = _home_id(conn, spec.home)
        else:
            community_id = _community_id(conn, spec.community or "")
    else:
        if spec.home:
            raise ContactError("an operator belongs to a community (or to all): no --home")
        community_id = _community_id(conn, spec.community) if spec.community else None
    if spec.daily_summary and spec.role != "family":
        raise ContactError("daily summaries go to family members only")
    quiet = spec.quiet or (None, None)
    row = conn.execute(
        "INSERT INTO contacts (role, home_id, community_id, name, urls, lang, quiet_start,"
        " quiet_end, daily_summary, summary_at, phone, has_key)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (spec.role, home_id, community_id, spec.name.strip(), urls, spec.lang, quiet[0],
         quiet[1], spec.daily_summary, spec.summary_at, phone, spec.has_key)).fetchone()
    assert row
    return int(row[0])


def remove_contact(conn: psycopg.Connection, contact_id: int) -> bool:
    """Deactivate (history keeps pointing at it)."""
    cur = conn.execute("UPDATE contacts SET active = false, updated_at = now() WHERE id = %s",
                       (contact_id,))
    return cur.rowcount == 1


def parse_days(text: str) -> list[int]:
    """'1-5', '6,7', 'mon-fri' -> ISO weekdays."""
    names = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
    out: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        lo, _, hi = part.partition("-")
        try:
            a = names.get(lo) or int(lo)
            b = (names.get(hi) or int(hi)) if hi else a
        except ValueError:
            raise ContactError(f"days {text!r}: expected e.g. 1-5, 6,7 or mon-fri") from None
        if not (1 <= a <= 7 and 1 <= b <= 7 and a <= b):
            raise ContactError(f"days {text!r}: weekdays are 1 (Monday) .. 7 (Sunday)")
        out.update(range(a, b + 1))
    return sorted(out)


def add_shift(conn: psycopg.Connection, contact_id: int, days: Sequence[int], starts: time,
              ends: time) -> int:
    row = conn.execute("SELECT role FROM contacts WHERE id = %s", (contact_id,)).fetchone()
    if row is None or row[0] != "community_worker":
        raise ContactError(f"contact {contact_id}: duty shifts are for community workers")
    for d in days:
        conn.execute("INSERT INTO duty_shifts (contact_id, weekday, starts, ends)"
                     " VALUES (%s, %s, %s, %s)", (contact_id, d, starts, ends))
    return len(days)


def set_policy(conn: psycopg.Connection, *, severity: str, raw: Any, home: str | None = None,
               community: str | None = None, by: str = "") -> policies.Policy:
    """Store a policy for a home or a community (validated); affects alerts opened from now on."""
    pol = policies.parse(raw)
    if severity not in policies.SEVERITIES:
        raise policies.PolicyError(f"severity {severity!r}: expected one of "
                                   f"{', '.join(policies.SEVERITIES)}")
    if bool(home) == bool(community):
        raise ContactError("give --home or --community (one of them)")
    scope, scope_id = (("home", _home_id(conn, home)[0]) if home
                       else ("community", _community_id(conn, community or "")))
    conn.execute(
        "INSERT INTO escalation_policies (scope, scope_id, severity, policy, updated_by)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (scope, scope_id, severity) DO UPDATE"
        " SET policy = excluded.policy, updated_at = now(), updated_by = excluded.updated_by",
        (scope, scope_id, severity, Jsonb(pol.to_json()), by))
    return pol


def effective_policies(conn: psycopg.Connection, home: str) -> dict[str, tuple[policies.Policy, str]]:
    home_id, community_id = _home_id(conn, home)
    rows = conn.execute(
        "SELECT scope, severity, policy FROM escalation_policies"
        " WHERE (scope = 'home' AND scope_id = %s) OR (scope = 'community' AND scope_id = %s)",
        (home_id, community_id)).fetchall()
    found = {(s, sev): p for s, sev, p in rows}
    return {sev: policies.choose(sev, home=found.get(("home", sev)),
                                 community=found.get(("community", sev)),
                                 home_id=home_id, community_id=community_id)
            for sev in policies.SEVERITIES}
