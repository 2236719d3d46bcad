"""The console's Starlette application: routes, security headers, the pool and the live hub."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any, AsyncIterator

from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from anju import sdnotify
from console import ack, routes, web
from console.live import Hub
from console.sql import users as users_sql

log = logging.getLogger("anju.console")

SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; "
     b"style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
     b"form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


async def not_found(request: Request, exc: Exception) -> Response:
    """A path that names nothing: JSON for the API, else the styled page in the reader's
    language with the way back to the board (and the header, when signed in)."""
    if request.url.path.startswith("/api/"):
        return web.problem(404, "not found")
    try:
        await web.current_user(request)
    except Exception:  # noqa: BLE001 - the database being away must not hide the page
        log.warning("404 page without the user: session lookup failed", exc_info=True)
    w = web.words(request)
    return web.render(request, "error.html", 404, w=w, code=404,
                      title=w("error.not_found_title"), message=w("error.not_found_text"))


async def server_error(request: Request, exc: Exception) -> Response:
    """An unhandled exception: logged with its traceback here, never shown to the reader."""
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    if request.url.path.startswith("/api/"):
        return web.problem(500, "internal error")
    try:
        w = web.words(request)
        page = web.render(request, "error.html", 500, w=w, code=500,
                          title=w("error.server_title"), message=w("error.server_text"))
    except Exception:  # noqa: BLE001 - a page that cannot be drawn still answers 500
        log.exception("the 500 page itself failed")
        page = Response("internal error", status_code=500, media_type="text/plain")
    # This answer comes from outside the SecurityHeaders middleware: add them here.
    page.raw_headers.extend(SECURITY_HEADERS)
    return page


@dataclass(frozen=True)
class ConsoleConfig:
    database_url: str
    secure_cookies: bool = False      # always mark cookies Secure (set when served behind https)
    # Where notifications can be read when they go to a local receiver (the demo's
    # inbox, a test mail catcher): linked in the console's top bar for staff.
    inbox_url: str | None = None
    pool_min: int = 2
    pool_max: int = 10
    # Reverse proxies whose X-Forwarded-For is believed (addresses or CIDR networks);
    # none by default, so a client cannot choose the address it is throttled as.
    trusted_proxies: tuple[str, ...] = ()
    ack_secret: bytes | None = None   # the router's signing key: serves /ack/<token> links
    # reads that may lag (the charts) go to a replica when given (database_read_url)
    read_url: str | None = None


def create_app(cfg: ConsoleConfig) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = AsyncConnectionPool(cfg.database_url, min_size=cfg.pool_min,
                                   max_size=cfg.pool_max, kwargs={"autocommit": True},
                                   open=False, name="console",
                                   # a connection that died with the server is replaced
                                   # before a request gets it, not after it failed
                                   check=AsyncConnectionPool.check_connection)
        await pool.open(wait=True, timeout=30)
        read_pool = pool
        if cfg.read_url and cfg.read_url != cfg.database_url:
            read_pool = AsyncConnectionPool(cfg.read_url, min_size=1, max_size=cfg.pool_max,
                                            kwargs={"autocommit": True}, open=False,
                                            name="console-read",
                                            check=AsyncConnectionPool.check_connection)
            await read_pool.open(wait=True, timeout=30)
        async with pool.connection() as conn:
            await conn.execute(users_sql.PURGE_SESSIONS)
        hub = Hub(pool, cfg.database_url)
        app.state.pool = pool
        app.state.read_pool = read_pool
        app.state.hub = hub
        listener = asyncio.create_task(hub.run(), name="console-listener")
        try:
            yield
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            if read_pool is not pool:
                await read_pool.close()
            await pool.close()

    app = Starlette(routes=routes.routes() + ack.routes(cfg.ack_secret), lifespan=lifespan,
                    middleware=[Middleware(SecurityHeaders)],
                    exception_handlers={404: not_found, 500: server_error})
    app.state.secure_cookies = cfg.secure_cookies
    app.state.proxies = web.Proxies(cfg.trusted_proxies)
    app.state.database_url = cfg.database_url
    app.state.templates = web.environment()
    app.state.templates.globals["inbox_url"] = cfg.inbox_url
    return app


def uvicorn_options(cfg: ConsoleConfig) -> dict[str, Any]:
    """uvicorn believes X-Forwarded-For/-Proto from the console's trusted proxies only.

    (uvicorn's own default believes any loopback client, and FORWARDED_ALLOW_IPS
    from the environment; neither is what the console's settings say.)
    """
    return {"proxy_headers": bool(cfg.trusted_proxies),
            "forwarded_allow_ips": list(cfg.trusted_proxies)}


async def answers(host: str, port: int, timeout: float) -> bool:
    """Whether the console answers GET /healthz on its own socket within `timeout` (200 or
    503 alike: a console without its database still serves its error pages)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, asyncio.TimeoutError):
        return False
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: console\r\nConnection: close\r\n\r\n")
        line = await asyncio.wait_for(reader.readline(), timeout)
        return line.startswith(b"HTTP/1.1 ")
    except (OSError, asyncio.TimeoutError):
        return False
    finally:
        writer.close()


async def tell_systemd(server: Any) -> None:
    """READY=1 once uvicorn listens; then WATCHDOG=1 each time a request to the console's
    own socket is answered (anju.sdnotify): the work of a web server is answering, so a
    blocked event loop or a wedged server stops the pings, not just a stuck timer."""
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    sdnotify.ready(f"serving on {host}:{port}")
    every = sdnotify.notifier().ping_every_s
    while not server.should_exit:
        if await answers(host, port, timeout=max(1.0, every)):
            sdnotify.watchdog()
        await asyncio.sleep(every)


def run(cfg: ConsoleConfig, host: str, port: int, **uvicorn_kw: Any) -> None:
    import uvicorn  # only when serving: tests and tools build the app without a server

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started and sdnotify.notifier().enabled:
                self.notifying = asyncio.create_task(tell_systemd(self), name="sdnotify")

    config = uvicorn.Config(create_app(cfg), host=host, port=port, timeout_graceful_shutdown=2,
                            log_level="info", **{**uvicorn_options(cfg), **uvicorn_kw})
    server = Server(config)
    server.run()
    if not server.started:
        raise SystemExit(3)   # as uvicorn.run: the server never started
