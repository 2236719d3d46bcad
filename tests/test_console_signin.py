"""Sign-in that cannot be turned against users: delays per user and address instead of a
lock anyone can trigger, X-Forwarded-For believed from configured proxies only, guessable
passwords refused, and unknown objects answering 404 (acknowledgement links included)."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from anju.embedded import Stack
from anju.host import free_port
from anju.settings import SettingsError, load
from console import auth, i18n, passwords
from console.users import NewUser, UserError, add_user
from tests.console_world import PASSWORD, ServerThread, World, login_csrf, sign_in



class ConsoleProcess:
    """`anju console` as its own process, configured through the environment as deployed."""

    def __init__(self, stack: Stack, log: Path, **env: str) -> None:
        self.port = free_port()
        self.env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir), **env)
        for k in ("ANJU_DATABASE_URL", "ANJU_MQTT_URL", "ANJU_CONFIG"):
            self.env.pop(k, None)
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "anju.cli", "console", "--port", str(self.port)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=log.open("ab"))
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("anju console did not start: " + log.read_text()[-2000:])
            time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)


@pytest.fixture(scope="module")
def plain(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleProcess]:
    """The console with the default settings: no trusted proxy."""
    p = ConsoleProcess(stack, tmp_path_factory.mktemp("console") / "plain.log")
    yield p
    p.stop()


@pytest.fixture(scope="module")
def proxied(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleProcess]:
    """The console behind a reverse proxy at 127.0.0.3."""
    p = ConsoleProcess(stack, tmp_path_factory.mktemp("console") / "proxied.log",
                       ANJU_CONSOLE_TRUSTED_PROXIES="127.0.0.3")
    yield p
    p.stop()


def client_at(base_url: str, address: str) -> httpx.Client:
    """A client whose connections come from `address` (any 127.x address is this machine)."""
    return httpx.Client(base_url=base_url, timeout=15,
                        transport=httpx.HTTPTransport(local_address=address))


def attempt(c: httpx.Client, username: str, password: str,
            headers: dict[str, str] | None = None) -> httpx.Response:
    return c.post("/login", data={"username": username, "password": password,
                                  "csrf": login_csrf(c)}, headers=headers)


def new_user(conn: psycopg.Connection, world: World) -> str:
    spec = NewUser(f"u-{secrets.token_hex(4)}", "测试", "family", homes=(world.home_code["A1"],))
    add_user(conn, spec, PASSWORD)
    return spec.username


def failures(conn: psycopg.Connection, username: str, remote: str, n: int) -> None:
    """n wrong passwords for the user from the address, as if sent over the past minutes."""
    conn.execute("INSERT INTO console_login_attempts (at, username, remote, ok)"
                 " SELECT now() - make_interval(secs => 60 + g), %s, %s, false"
                 " FROM generate_series(1, %s) g", (username, remote, n))


# -- throttling ----------------------------------------------------------------------


def test_a_flood_from_one_address_does_not_stop_the_user_at_another(
        plain: ConsoleProcess, world: World, conn: psycopg.Connection) -> None:
    """200 wrong passwords for a user from 127.0.0.2: that address waits, even with the right
    password; the user signs in from 127.0.0.4 at once."""
    user = new_user(conn, world)
    failures(conn, user, "127.0.0.2", 200)
    attacker = client_at(plain.url, "127.0.0.2")
    r = attempt(attacker, user, "wrong-password")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 60
    assert attempt(attacker, user, PASSWORD).status_code == 429
    started = time.monotonic()
    r = attempt(client_at(plain.url, "127.0.0.4"), user, PASSWORD)
    assert r.status_code == 303 and "anju_session=" in r.headers["set-cookie"]
    assert time.monotonic() - started < 5
    # the refused attempts are kept, marked as such
    row = conn.execute("SELECT count(*) FROM console_login_attempts"
                       " WHERE username = %s AND refused", (user,)).fetchone()
    assert row == (2,)


def test_delays_grow_with_the_failures(plain: ConsoleProcess, world: World,
                                       conn: psycopg.Connection) -> None:
    """Three failures are free; then 1 s, 2 s, 4 s ... (Retry-After), up to 15 minutes; a
    refused attempt does not lengthen the wait; a success starts the count again."""
    user = new_user(conn, world)
    c = client_at(plain.url, "127.0.0.5")
    for _ in range(auth.LOGIN_FREE_PER_USER):
        assert attempt(c, user, "wrong-password").status_code == 401
    waits = []
    for _ in range(3):
        r = attempt(c, user, "wrong-password")
        assert r.status_code == 429, r.status_code
        assert "秒后再试" in r.text
        waits.append(int(r.headers["Retry-After"]))
        time.sleep(waits[-1] + 0.2)
        assert attempt(c, user, "wrong-password").status_code == 401
    assert waits == [1, 2, 4]
    r = attempt(c, user, PASSWORD)
    assert r.status_code == 429 and r.headers["Retry-After"] == "8"
    # later: after 10 and after 20 failures
    failures(conn, user, "127.0.0.5", 10 - 6)
    conn.execute("UPDATE console_login_attempts SET at = now() - interval '2 minutes'"
                 " WHERE username = %s", (user,))
    wait = int(attempt(c, user, PASSWORD).headers["Retry-After"])
    assert 2 ** 7 - 120 - 2 <= wait <= 2 ** 7 - 120          # 10 failures: 128 s, 2 min ago
    failures(conn, user, "127.0.0.5", 10)
    wait = int(attempt(c, user, PASSWORD).headers["Retry-After"])
    assert 15 * 60 - 61 - 2 <= wait <= 15 * 60 - 61           # 20: 15 min, the last 61 s ago
    # waited out, the right password works and the count starts again
    conn.execute("UPDATE console_login_attempts SET at = at - interval '20 minutes'"
                 " WHERE username = %s", (user,))
    assert attempt(c, user, PASSWORD).status_code == 303
    assert attempt(client_at(plain.url, "127.0.0.5"), user, "wrong").status_code == 401


def test_many_user_names_from_one_address_are_slowed(
        plain: ConsoleProcess, world: World, conn: psycopg.Connection) -> None:
    """One wrong password each for many user names from one address: after 30, it waits."""
    c = client_at(plain.url, "127.0.0.6")
    statuses = [attempt(c, f"spray-{i}-{secrets.token_hex(2)}", "wrong-password").status_code
                for i in range(auth.LOGIN_FREE_PER_REMOTE + 1)]
    assert statuses == [401] * auth.LOGIN_FREE_PER_REMOTE + [429]


def test_rotating_forwarded_for_from_a_client_is_ignored(
        plain: ConsoleProcess, world: World, conn: psycopg.Connection) -> None:
    """From 127.0.0.1 (which uvicorn believes by default), a new X-Forwarded-For on every
    guess changes nothing: the attempts count against 127.0.0.1 and are slowed."""
    tag = secrets.token_hex(3)
    c = client_at(plain.url, "127.0.0.1")
    try:
        statuses = []
        for i in range(auth.LOGIN_FREE_PER_REMOTE + 1):
            r = attempt(c, f"rot-{tag}-{i}", "wrong-password",
                        headers={"X-Forwarded-For": f"198.51.100.{i + 1}"})
            statuses.append(r.status_code)
        assert statuses[-1] == 429, statuses
        remotes = {row[0] for row in conn.execute(
            "SELECT DISTINCT remote FROM console_login_attempts WHERE username LIKE %s",
            (f"rot-{tag}-%",))}
        assert remotes == {"127.0.0.1"}
    finally:  # the other console tests sign in from 127.0.0.1
        conn.execute("DELETE FROM console_login_attempts WHERE username LIKE %s",
                     (f"rot-{tag}-%",))


def test_forwarded_for_from_a_trusted_proxy_is_used(
        proxied: ConsoleProcess, world: World, conn: psycopg.Connection) -> None:
    """Behind the configured proxy each client is its own address: one client's failures
    slow that client only, and the address is what the session and attempts record."""
    user = new_user(conn, world)
    proxy = client_at(proxied.url, "127.0.0.3")
    attacker = {"X-Forwarded-For": "203.0.113.7"}
    for _ in range(auth.LOGIN_FREE_PER_USER):
        assert attempt(proxy, user, "wrong-password", attacker).status_code == 401
    assert attempt(proxy, user, "wrong-password", attacker).status_code == 429
    r = attempt(proxy, user, PASSWORD, {"X-Forwarded-For": "203.0.113.8, 127.0.0.3"})
    assert r.status_code == 303
    rows = conn.execute("SELECT remote, ok FROM console_login_attempts WHERE username = %s"
                        " ORDER BY id", (user,)).fetchall()
    assert {r for r, ok in rows if not ok} == {"203.0.113.7"}
    assert [r for r, ok in rows if ok] == ["203.0.113.8"]
    row = conn.execute("SELECT s.remote FROM console_sessions s JOIN console_users u"
                       " ON u.id = s.user_id WHERE u.username = %s", (user,)).fetchone()
    assert row == ("203.0.113.8",)


def test_trusted_proxies_setting_is_checked() -> None:
    """A list from TOML or the environment; anything but addresses and networks is refused,
    naming the key."""
    s = load(env={"ANJU_CONSOLE_TRUSTED_PROXIES": "10.0.0.5, 192.168.1.0/24"})
    assert s.console.trusted_proxies == ("10.0.0.5", "192.168.1.0/24")
    assert load(env={}).console.trusted_proxies == ()
    for bad in ("nginx", "*", "10.0.0.5/24"):
        with pytest.raises(SettingsError, match="console.trusted_proxies"):
            load(env={"ANJU_CONSOLE_TRUSTED_PROXIES": bad})


# -- passwords -----------------------------------------------------------------------


@pytest.mark.parametrize("password,reason", [
    ("aaaaaaaaaa", "repeats characters"),
    ("1234567890", "commonly used password"),
    ("password123", "commonly used password"),
])
def test_guessable_passwords_are_refused(conn: psycopg.Connection, world: World,
                                         password: str, reason: str) -> None:
    """`anju user add` refuses them saying why; the console's words say it in Chinese."""
    spec = NewUser(f"pw-{secrets.token_hex(4)}", "测试", "family", homes=(world.home_code["A1"],))
    with pytest.raises(UserError, match=reason):
        add_user(conn, spec, password)
    assert conn.execute("SELECT 1 FROM console_users WHERE username = %s",
                        (spec.username,)).fetchone() is None
    zh = passwords.refusal(password, i18n.Words("zh-CN"))
    assert zh and zh.startswith("密码太容易被猜到") and ("常见密码" in zh or "重复字符" in zh)


def test_generated_passwords_are_accepted(conn: psycopg.Connection, world: World,
                                          tmp_path: Path, stack: Stack) -> None:
    """What anju generates passes; the command line says why it refuses one."""
    for _ in range(50):
        assert passwords.problems(auth.generate_password()) == []
    spec = NewUser(f"gen-{secrets.token_hex(4)}", "测试", "family", homes=(world.home_code["A1"],))
    _, generated = add_user(conn, spec)
    assert len(generated) >= 16
    env = dict(os.environ, ANJU_STATE_DIR=str(stack.state_dir))
    for k in ("ANJU_DATABASE_URL", "ANJU_MQTT_URL", "ANJU_CONFIG"):
        env.pop(k, None)
    r = subprocess.run([sys.executable, "-m", "anju.cli", "user", "add", f"cli-{spec.username}",
                        "--role", "admin", "--name", "x", "--password-stdin"],
                       input="1234567890\n", text=True, capture_output=True, env=env, timeout=60)
    assert r.returncode == 2 and "commonly used password" in r.stderr, r.stderr


# -- 404s ----------------------------------------------------------------------------


def _http(method: str, url: str) -> int:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


async def test_a_signed_link_to_a_missing_alert_is_not_found(db_url: str) -> None:
    """A genuine token whose alert is not there: 404 to GET and POST, nothing recorded."""
    from alerts.tokens import new_nonce, sign_ack_token
    from console.app import ConsoleConfig, create_app

    secret = secrets.token_bytes(32)
    now = datetime.now(timezone.utc)
    pool = AsyncConnectionPool(db_url, min_size=1, max_size=2, open=False,
                               kwargs={"autocommit": True})
    await pool.open()
    server = ServerThread(create_app(ConsoleConfig(db_url, ack_secret=secret))).start()
    try:
        for alert_id in (10 ** 12, 2 ** 63 + 5):
            nonce = new_nonce()
            token = sign_ack_token(secret, alert_id=alert_id, contact_id=10 ** 9,
                                   expires_at=now + timedelta(hours=1), nonce=nonce)
            url = f"{server.url}/ack/{token}"
            assert await asyncio.to_thread(_http, "GET", url) == 404
            assert await asyncio.to_thread(_http, "POST", url) == 404
            async with pool.connection() as conn:
                cur = await conn.execute("SELECT 1 FROM ack_link_uses WHERE nonce = %s", (nonce,))
                assert await cur.fetchone() is None
    finally:
        server.stop()
        await pool.close()


ID_ROUTES = [
    ("GET", "/alerts/{id}"), ("GET", "/homes/{id}"), ("GET", "/communities/{id}/workers"),
    ("POST", "/alerts/{id}/acknowledge"), ("POST", "/alerts/{id}/resolve"),
    ("POST", "/homes/{id}/visits"), ("POST", "/homes/{id}/schedules"),
    ("POST", "/homes/{id}/away"), ("POST", "/homes/{id}/detector"),
    ("POST", "/homes/{id}/contacts"), ("POST", "/homes/{id}/devices"),
    ("POST", "/homes/{id}/policies"), ("POST", "/homes/{id}/edit"),
    ("POST", "/homes/{id}/contacts/{id}/remove"), ("POST", "/communities/{id}/shifts"),
    ("POST", "/communities/{id}/shifts/{id}/remove"),
    ("GET", "/api/v1/alerts/{id}"), ("POST", "/api/v1/alerts/{id}/acknowledge"),
    ("POST", "/api/v1/alerts/{id}/resolve"), ("GET", "/api/v1/homes/{id}"),
    ("GET", "/api/v1/homes/{id}/activity"), ("GET", "/api/v1/homes/{id}/usage"),
    ("GET", "/api/v1/homes/{id}/visits"), ("POST", "/api/v1/homes/{id}/visits"),
    ("POST", "/api/v1/homes/{id}/schedules"), ("POST", "/api/v1/homes/{id}/away"),
    ("GET", "/api/v1/homes/{id}/detector"), ("POST", "/api/v1/homes/{id}/detector"),
    ("POST", "/api/v1/homes/{id}/contacts"), ("GET", "/api/v1/homes/{id}/devices"),
    ("POST", "/api/v1/homes/{id}/devices"), ("GET", "/api/v1/homes/{id}/policies"),
    ("POST", "/api/v1/homes/{id}/policies"), ("POST", "/api/v1/homes/{id}"),
    ("POST", "/api/v1/homes/{id}/contacts/{id}/remove"),
    ("GET", "/api/v1/communities/{id}/workers"), ("POST", "/api/v1/communities/{id}/shifts"),
    ("POST", "/api/v1/communities/{id}/shifts/{id}/remove"),
]


def test_unknown_ids_are_not_found(console: ServerThread, world: World) -> None:
    """Every route with an id, as an admin (who may see anything): an id that names nothing,
    however large, is 404; one that is not a number is 404 (or 400/422), never a 500."""
    c = sign_in(console.url, world.users["admin"])
    csrf = c.csrf  # type: ignore[attr-defined]
    wrong = []
    for method, route in ID_ROUTES:
        # a POST with an empty form may be refused for its fields first (422)
        fine = (404,) if method == "GET" else (404, 422)
        for ident in ("2147483000", "2147483648", "999999999999999999", "0"):
            url = route.replace("{id}", ident)
            if method == "GET":
                r = c.get(url)
            elif url.startswith("/api/"):
                r = c.post(url, json={}, headers={"X-CSRF-Token": csrf})
            else:
                r = c.post(url, data={"csrf": csrf})
            if r.status_code not in fine:
                wrong.append((method, url, r.status_code, r.text[:120]))
        for ident in ("abc", "-1", "1.5", "%20"):
            url = route.replace("{id}", ident)
            r = c.get(url) if method == "GET" else c.post(
                url, data={"csrf": csrf}, headers={"X-CSRF-Token": csrf})
            if r.status_code not in (400, 404, 422):
                wrong.append((method, url, r.status_code, r.text[:120]))
    assert not wrong, wrong
