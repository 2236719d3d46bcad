"""For the console tests: the console served by uvicorn on a free port, a small world of two
communities with homes, alerts and users of every role, and signed-in clients. The fixtures
`console` and `world` (tests/conftest.py) build them."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import uvicorn

from anju import registry
from anju.host import free_port
from console.users import NewUser, add_user
from tests.support import open_alert

PASSWORD = "correct horse battery"
# Debian's chromium, headless, driven by Playwright (executable_path)
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class ServerThread:
    """uvicorn in a background thread (its own event loop), on a free loopback port."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on",
            timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the console did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class World:
    """Community A (buildings 1 and 2) and community B, one home each, an alert each."""

    tag: str
    community: dict[str, str] = field(default_factory=dict)      # "A" -> code
    community_id: dict[str, int] = field(default_factory=dict)   # "A" -> id
    home: dict[str, int] = field(default_factory=dict)           # "A1", "A2", "B1" -> id
    home_code: dict[str, str] = field(default_factory=dict)
    alert: dict[str, int] = field(default_factory=dict)          # same keys -> alert id
    users: dict[str, str] = field(default_factory=dict)          # role key -> username


def make_world(conn: psycopg.Connection, tag: str) -> World:
    w = World(tag)
    w.community = {"A": f"ca-{tag}", "B": f"cb-{tag}"}
    for key, comm, building in (("A1", "A", "1"), ("A2", "A", "2"), ("B1", "B", "1")):
        code = f"h-{tag}-{key}"
        w.home[key] = registry.add_home(conn, code=code, community=w.community[comm],
                                        resident=f"住户{key}", building=building,
                                        address=f"{key} 室")
        w.home_code[key] = code
        w.alert[key] = open_alert(conn, w.home[key], severity="high")
    for comm, code in w.community.items():
        row = conn.execute("SELECT id FROM communities WHERE code = %s", (code,)).fetchone()
        assert row
        w.community_id[comm] = int(row[0])
    specs = {
        "admin": NewUser(f"admin-{tag}", "管理员", "admin"),
        "opA": NewUser(f"opa-{tag}", "社工甲", "operator", communities=(w.community["A"],)),
        "propA1": NewUser(f"pa-{tag}", "物业甲", "property",
                          buildings=((w.community["A"], "1"),)),
        "famA2": NewUser(f"fa-{tag}", "家属乙", "family", homes=(w.home_code["A2"],)),
    }
    for key, spec in specs.items():
        add_user(conn, spec, PASSWORD)
        w.users[key] = spec.username
    return w


def login_csrf(client: httpx.Client, next_path: str = "") -> str:
    r = client.get("/login" + (f"?next={next_path}" if next_path else ""))
    m = re.search(r'name="csrf" value="([^"]+)"', r.text)
    assert m, r.text[:500]
    return m.group(1)


def sign_in(base_url: str, username: str, password: str = PASSWORD) -> httpx.Client:
    """A client with a session; `client.csrf` holds the session's CSRF token."""
    c = httpx.Client(base_url=base_url, follow_redirects=False, timeout=10)
    token = login_csrf(c)
    r = c.post("/login", data={"username": username, "password": password, "csrf": token})
    assert r.status_code == 303, (r.status_code, r.text[:300])
    me = c.get("/api/v1/me").json()
    c.csrf = me["csrf_token"]  # type: ignore[attr-defined]
    return c
