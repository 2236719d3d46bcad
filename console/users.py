"""Creating console users and their grants (used by `anju user add` and tests)."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from console import auth, i18n, passwords
from console.sql import users as users_sql


class UserError(ValueError):
    """The user cannot be created as asked; the message says why."""


@dataclass(frozen=True)
class NewUser:
    username: str
    name: str
    role: str
    communities: tuple[str, ...] = ()                  # operator: community codes
    buildings: tuple[tuple[str, str], ...] = ()        # property: (community code, building)
    homes: tuple[str, ...] = ()                        # family: home codes
    lang: str = "zh-CN"

    def check(self) -> None:
        if self.role not in auth.ROLES:
            raise UserError(f"role {self.role!r}: expected one of {', '.join(auth.ROLES)}")
        if not self.name.strip():
            raise UserError("name: expected the person's name")
        wanted = {"operator": bool(self.communities), "property": bool(self.buildings),
                  "family": bool(self.homes), "admin": True}
        if not wanted[self.role]:
            what = {"operator": "--community", "property": "--building COMMUNITY/BUILDING",
                    "family": "--home"}[self.role]
            raise UserError(f"a {self.role} user needs {what}")
        others = {"operator": self.buildings or self.homes,
                  "property": self.communities or self.homes,
                  "family": self.communities or self.buildings,
                  "admin": self.communities or self.buildings or self.homes}[self.role]
        if others:
            raise UserError(f"a {self.role} user takes only its own kind of scope")


def add_user(conn: psycopg.Connection, user: NewUser,
             password: str | None = None) -> tuple[int, str]:
    """Create the user with its grants; returns (id, password) — the password is shown once."""
    user.check()
    password = password or auth.generate_password()
    # The command line speaks English, as its other messages do.
    refused = passwords.refusal(password, i18n.Words("en"), (user.username, user.name))
    if refused:
        raise UserError(f"password refused. {refused}")
    with conn.transaction():
        try:
            row = conn.execute(users_sql.ADD_USER, (
                user.username, user.name, user.role, auth.hash_password(password),
                user.lang)).fetchone()
        except psycopg.errors.UniqueViolation:
            raise UserError(f"user {user.username!r} already exists") from None
        except psycopg.errors.CheckViolation:
            raise UserError(f"user name {user.username!r}: 2-64 letters, digits or _.@-") from None
        assert row
        uid = int(row[0])
        for code in user.communities:
            conn.execute(users_sql.ADD_SCOPE, (uid, _community(conn, code), None, None))
        for code, building in user.buildings:
            if not building.strip():
                raise UserError(f"building for community {code!r}: expected a building name")
            conn.execute(users_sql.ADD_SCOPE, (uid, _community(conn, code), building, None))
        for code in user.homes:
            found = conn.execute(users_sql.HOME_BY_CODE, (code,)).fetchone()
            if not found:
                raise UserError(f"no home {code!r}")
            conn.execute(users_sql.ADD_SCOPE, (uid, None, None, found[0]))
    return uid, password


def _community(conn: psycopg.Connection, code: str) -> int:
    found = conn.execute(users_sql.COMMUNITY_BY_CODE, (code,)).fetchone()
    if not found:
        raise UserError(f"no community {code!r}")
    return int(found[0])
