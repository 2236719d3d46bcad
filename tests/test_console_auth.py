"""Console sign-in: argon2 passwords, session cookies, CSRF on every POST, rate limiting."""

from __future__ import annotations

import httpx
import psycopg

from console import auth
from console.users import NewUser, UserError, add_user
from tests.console_world import PASSWORD, ServerThread, World, login_csrf, sign_in



def test_passwords_are_argon2_and_verify() -> None:
    """A stored hash is argon2id; the right password verifies, a wrong one and no hash do not."""
    h = auth.hash_password("s3cret-password")
    assert h.startswith("$argon2id$")
    assert auth.verify_password(h, "s3cret-password")
    assert not auth.verify_password(h, "wrong")
    assert not auth.verify_password(None, "anything")


def test_grants_cover_only_their_scope() -> None:
    """Operator: the community; property: one building of it; family: one home."""
    op = auth.User(1, "op", "op", "operator", grants=(auth.Grant(community_id=7),))
    prop = auth.User(2, "p", "p", "property", grants=(auth.Grant(community_id=7, building="1"),))
    fam = auth.User(3, "f", "f", "family", grants=(auth.Grant(home_id=42),))
    assert op.sees(7, "2", 1) and not op.sees(8, "2", 1)
    assert prop.sees(7, "1", 1) and not prop.sees(7, "2", 1)
    assert fam.sees(7, "1", 42) and not fam.sees(7, "1", 43)
    assert auth.User(4, "a", "a", "admin").sees(99, "", 99)


def test_user_needs_its_kind_of_scope(conn: psycopg.Connection, unique: str) -> None:
    """An operator without a community, or a family member with one, is refused."""
    for bad in (NewUser(f"x-{unique}", "x", "operator"),
                NewUser(f"y-{unique}", "y", "family", communities=("c",))):
        try:
            add_user(conn, bad)
        except UserError:
            continue
        raise AssertionError(f"{bad} was accepted")


def test_sign_in_sets_a_safe_cookie_and_sign_out_ends_it(console: ServerThread,
                                                          world: World) -> None:
    """The session cookie is HttpOnly and SameSite=Lax; after sign-out it no longer works."""
    c = httpx.Client(base_url=console.url, timeout=10)
    token = login_csrf(c)
    r = c.post("/login", data={"username": world.users["opA"], "password": PASSWORD,
                               "csrf": token})
    assert r.status_code == 303 and r.headers["location"] == "/board"
    cookie = r.headers["set-cookie"]
    assert "anju_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert c.get("/board").status_code == 200
    session = c.cookies["anju_session"]
    csrf = c.get("/api/v1/me").json()["csrf_token"]
    assert c.post("/logout", data={"csrf": csrf}).status_code == 303
    c2 = httpx.Client(base_url=console.url, cookies={"anju_session": session}, timeout=10)
    assert c2.get("/api/v1/me").status_code == 401


def test_post_without_csrf_token_is_refused(console: ServerThread, world: World,
                                            conn: psycopg.Connection) -> None:
    """Forms need the session's token, the API its header; the alert stays open."""
    c = sign_in(console.url, world.users["opA"])
    aid = world.alert["A1"]
    assert c.post(f"/alerts/{aid}/acknowledge", data={"note": "x"}).status_code == 403
    assert c.post(f"/alerts/{aid}/acknowledge",
                  data={"csrf": "forged", "note": "x"}).status_code == 403
    assert c.post(f"/api/v1/alerts/{aid}/acknowledge", json={}).status_code == 403
    assert c.post("/logout", data={}).status_code == 403
    row = conn.execute("SELECT state FROM alerts WHERE id = %s", (aid,)).fetchone()
    assert row and row[0] == "open"
    # the login form has its own token (double-submit cookie)
    fresh = httpx.Client(base_url=console.url, timeout=10)
    login_csrf(fresh)
    r = fresh.post("/login", data={"username": world.users["opA"], "password": PASSWORD,
                                   "csrf": "forged"})
    assert r.status_code == 403 and "anju_session" not in r.headers.get("set-cookie", "")


def test_login_rate_limited_after_repeated_failures(console: ServerThread, world: World,
                                                    conn: psycopg.Connection) -> None:
    """After three wrong passwords for a user name from an address, even the right one is
    refused (429) until a delay has passed (tests/test_console_signin.py: how it grows)."""
    user = world.users["famA2"]
    c = httpx.Client(base_url=console.url, timeout=10)
    for _ in range(auth.LOGIN_FREE_PER_USER):
        r = c.post("/login", data={"username": user, "password": "wrong-password",
                                   "csrf": login_csrf(c)})
        assert r.status_code == 401
    r = c.post("/login", data={"username": user, "password": PASSWORD, "csrf": login_csrf(c)})
    assert r.status_code == 429 and "Retry-After" in r.headers
    assert "anju_session" not in r.headers.get("set-cookie", "")
    # let the rest of the module sign this user in again
    conn.execute("DELETE FROM console_login_attempts WHERE username = %s", (user,))
    conn.execute("DELETE FROM console_login_attempts WHERE remote = '127.0.0.1' AND NOT ok")


def test_unknown_user_and_open_redirect(console: ServerThread, world: World) -> None:
    """An unknown user gets the same answer as a wrong password; next= stays on this site."""
    c = httpx.Client(base_url=console.url, timeout=10)
    r = c.post("/login", data={"username": "nobody-here", "password": "x" * 12,
                               "csrf": login_csrf(c)})
    assert r.status_code == 401
    r = c.post("/login", data={"username": world.users["admin"], "password": PASSWORD,
                               "csrf": login_csrf(c), "next": "//evil.example/"})
    assert r.headers["location"] == "/board"
