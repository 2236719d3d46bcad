"""Fixtures: a real PostgreSQL+TimescaleDB and a real Mosquitto on free loopback ports.

One embedded stack per test session, in its own temporary state directory.
Tests keep out of each other's way by using unique home and device codes
(the `unique` fixture), as aiomqtt's tests use a unique topic per test.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterator

import psycopg
import pytest

from alerts.clock import ManualClock
from alerts.router import Retry, Router, RouterConfig
from anju import db, registry
from anju.embedded import Stack
from anju.endpoints import Endpoints, MqttEndpoint
from anju.host import free_ports
from console.app import ConsoleConfig, create_app
from devtools.sinks import HttpSink, SmtpSink
from tests.console_world import ServerThread, World, make_world
from tests.router_support import SECRET


def fresh_stack(prefix: str = "anju-test-") -> Iterator[Stack]:
    """Embedded servers (migrated) in a new temporary directory, removed at the end."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(base, 0o711)
    # ports of its own, not the well-known ones `anju up` prefers: a test that stops a server
    # and starts it again frees its port meanwhile, and a second test session (or the demo)
    # taking the well-known port then was this one's "restarted" server
    pg, mqtt, service = free_ports(3)
    s = Stack(base / "state", pg_port=pg, mqtt_port=mqtt, mqtt_service_port=service)
    s.up()
    db.migrate(s.database_url())
    yield s
    s.down()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The session's embedded servers, stopped at the end."""
    yield from fresh_stack()


@pytest.fixture(scope="session")
def endpoints(stack: Stack) -> Endpoints:
    return Endpoints(stack.database_url(), MqttEndpoint.from_url(stack.mqtt_url()), stack)


@pytest.fixture(scope="session")
def db_url(stack: Stack) -> str:
    return stack.database_url()


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c


@pytest.fixture
def unique() -> str:
    """A short random tag for names that must not collide between tests."""
    return secrets.token_hex(4)


def sync_broker(stack: Stack, conn: psycopg.Connection) -> None:
    """Give the broker the credentials of every provisioned device (as `anju device add` does)."""
    stack.write_broker_files(registry.broker_user_hashes(conn))
    stack.reload_broker()
    time.sleep(0.2)  # Mosquitto applies SIGHUP on its next loop turn


@pytest.fixture
def home_factory(conn: psycopg.Connection, stack: Stack, unique: str):
    """Provision a home with devices; returns {kind-room: NewDevice} plus the home code."""

    def make(devices: list[tuple[str, str]], *, community: str | None = None,
             tz: str = "Asia/Shanghai") -> tuple[str, dict[str, registry.NewDevice]]:
        code = f"h-{unique}-{secrets.token_hex(2)}"
        registry.add_home(conn, code=code, community=community or f"c-{unique}",
                          resident="测试", tz=tz)
        made = {}
        for kind, room in devices:
            d = registry.add_device(conn, home=code, kind=kind, room=room)
            made[f"{kind}-{room}"] = d
        sync_broker(stack, conn)
        return code, made

    return make


@pytest.fixture(scope="module")
def console(db_url: str) -> Iterator[ServerThread]:
    """The web console, served by uvicorn on a free loopback port."""
    s = ServerThread(create_app(ConsoleConfig(db_url))).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def ack_console(db_url: str) -> Iterator[ServerThread]:
    """The console with the router's signing key: its API and the acknowledgement links."""
    s = ServerThread(create_app(ConsoleConfig(db_url, ack_secret=SECRET))).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def http_sink() -> Iterator[HttpSink]:
    """A real HTTP endpoint apprise's json:// and form:// deliver to."""
    s = HttpSink().start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server apprise's mailto:// delivers to."""
    s = SmtpSink().start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def world(db_url: str) -> World:
    """Two communities with homes, an open alert each, and users of every role."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        return make_world(conn, secrets.token_hex(3))


@pytest.fixture
async def make_router(db_url: str) -> AsyncIterator[Callable[..., Any]]:
    """Routers on the test database for one community, on a ManualClock, closed at the end."""
    made: list[Router] = []

    async def make(community_id: int, clock: ManualClock, **kw: Any) -> Router:
        cfg = RouterConfig(secret=SECRET, link_base=kw.pop("link_base", "http://127.0.0.1:9"),
                           communities=[community_id], worker=f"t-{secrets.token_hex(2)}",
                           retry=kw.pop("retry", Retry(3, (5, 20))), concurrency=4, **kw)
        r = Router(db_url, cfg, clock=clock)
        await r.open()
        made.append(r)
        return r

    yield make
    for r in made:
        await r.close()
