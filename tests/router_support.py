"""For the router tests: contacts, a home's community, unique receiver paths."""

from __future__ import annotations

import secrets
from typing import Any

import psycopg

from alerts import manage
from alerts.manage import ContactSpec

SECRET = b"test-secret-0123456789abcdef"


def contact(conn: psycopg.Connection, role: str, name: str, urls: list[str], *,
            home: str | None = None, community: str | None = None, **kw: Any) -> int:
    return manage.add_contact(conn, ContactSpec(role=role, name=name, urls=urls, home=home,
                                                community=community, **kw))


def community_of(conn: psycopg.Connection, home: str) -> tuple[int, str]:
    row = conn.execute("SELECT c.id, c.code FROM homes h JOIN communities c"
                       " ON c.id = h.community_id WHERE h.code = %s", (home,)).fetchone()
    assert row
    return int(row[0]), str(row[1])


def path() -> str:
    return f"/{secrets.token_hex(4)}"
