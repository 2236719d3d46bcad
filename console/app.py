"""The console's Starlette application: routes, security headers, the pool and the live hub."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any, AsyncIterator

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console import api, openapi, pages, web
from console.sql import users as users_sql
from console.live import Hub

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


async def health(request: Request) -> Response:
    """200 while the console can reach its database, else 503 (for a load balancer)."""
    hub: Hub = request.app.state.hub
    try:
        async with request.app.state.pool.connection(timeout=2) as conn:
            await conn.execute("SELECT 1")
        database = True
    except (psycopg.Error, PoolTimeout, OSError):
        database = False
    return JSONResponse({"ok": database, "database": database,
                         "listening": hub.listening.is_set(), "clients": len(hub.clients)},
                        status_code=200 if database else 503)


async def openapi_json(request: Request) -> Response:
    return JSONResponse(openapi.document())


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
        async with pool.connection() as conn:
            await conn.execute(users_sql.PURGE_SESSIONS)
        hub = Hub(pool, cfg.database_url)
        app.state.pool = pool
        app.state.hub = hub
        listener = asyncio.create_task(hub.run(), name="console-listener")
        try:
            yield
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            await pool.close()

    routes = [
        Route("/", pages.root),
        Route("/login", pages.login, methods=["GET", "POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/lang/{code}", pages.set_lang),
        Route("/board", pages.board),
        Route("/board/rows", pages.board_rows),
        Route("/events", pages.events),
        Route("/alerts/{id}", pages.alert),
        Route("/alerts/{id}/acknowledge", pages.acknowledge, methods=["POST"]),
        Route("/alerts/{id}/resolve", pages.resolve, methods=["POST"]),
        Route("/homes", pages.homes),
        Route("/homes/{id}", pages.home),
        Route("/homes/{id}/visits", pages.record_visit, methods=["POST"]),
        Route("/homes/{id}/schedules", pages.set_schedule, methods=["POST"]),
        Route("/visits", pages.visits_due),
        Route("/homes/{id}/away", pages.set_away, methods=["POST"]),
        Route("/homes/{id}/detector", pages.set_detector, methods=["POST"]),
        Route("/homes/{id}/contacts", pages.add_contact, methods=["POST"]),
        Route("/homes/{id}/devices", pages.add_device, methods=["POST"]),
        Route("/homes/{id}/contacts/{cid}/remove", pages.remove_contact, methods=["POST"]),
        Route("/homes/{id}/policies", pages.set_policy, methods=["POST"]),
        Route("/homes", pages.create_home, methods=["POST"]),
        Route("/homes/{id}/edit", pages.edit_home, methods=["POST"]),
        Route("/communities/{id}/workers", pages.workers),
        Route("/communities/{id}/shifts", pages.add_shift, methods=["POST"]),
        Route("/communities/{id}/shifts/{sid}/remove", pages.remove_shift, methods=["POST"]),
        Route("/reports", pages.report),
        Route("/reports/response.csv", pages.report_response_csv),
        Route("/reports/kinds.csv", pages.report_kinds_csv),
        Route("/reports/devices.csv", pages.report_devices_csv),
        Route("/audit", pages.audit),
        Route("/healthz", health),
        Route("/api/v1/openapi.json", openapi_json),
        Route("/api/v1/me", api.me),
        Route("/api/v1/board", api.board),
        Route("/api/v1/alerts", api.alerts),
        Route("/api/v1/alerts/{id}", api.alert),
        Route("/api/v1/alerts/{id}/acknowledge", api.acknowledge, methods=["POST"]),
        Route("/api/v1/alerts/{id}/resolve", api.resolve, methods=["POST"]),
        Route("/api/v1/homes", api.homes),
        Route("/api/v1/homes/{id}", api.home),
        Route("/api/v1/homes/{id}/activity", api.activity),
        Route("/api/v1/homes/{id}/usage", api.usage),
        Route("/api/v1/homes/{id}/visits", api.home_visits),
        Route("/api/v1/homes/{id}/visits", api.record_visit, methods=["POST"]),
        Route("/api/v1/homes/{id}/schedules", api.set_schedule, methods=["POST"]),
        Route("/api/v1/visits", api.visits_due),
        Route("/api/v1/homes/{id}/away", api.set_away, methods=["POST"]),
        Route("/api/v1/homes/{id}/detector", api.detector),
        Route("/api/v1/homes/{id}/detector", api.set_detector, methods=["POST"]),
        Route("/api/v1/homes/{id}/contacts", api.add_contact, methods=["POST"]),
        Route("/api/v1/homes/{id}/devices", api.devices),
        Route("/api/v1/homes/{id}/devices", api.add_device, methods=["POST"]),
        Route("/api/v1/homes/{id}/contacts/{cid}/remove", api.remove_contact,
              methods=["POST"]),
        Route("/api/v1/homes/{id}/policies", api.policies),
        Route("/api/v1/homes/{id}/policies", api.set_policy, methods=["POST"]),
        Route("/api/v1/homes", api.create_home, methods=["POST"]),
        Route("/api/v1/homes/{id}", api.edit_home, methods=["POST"]),
        Route("/api/v1/communities/{id}/workers", api.workers),
        Route("/api/v1/communities/{id}/shifts", api.add_shift, methods=["POST"]),
        Route("/api/v1/communities/{id}/shifts/{sid}/remove", api.remove_shift,
              methods=["POST"]),
        Route("/api/v1/reports", api.report),
        Route("/api/v1/audit", api.audit),
        Mount("/static", StaticFiles(packages=[("console", "static")]), name="static"),
    ]

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        if request.url.path.startswith("/api/"):
            return web.problem(500, "internal error")
        return Response("internal error", status_code=500)

    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(SecurityHeaders)],
                    exception_handlers={500: server_error})
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


def run(cfg: ConsoleConfig, host: str, port: int, **uvicorn_kw: Any) -> None:
    import uvicorn

    uvicorn.run(create_app(cfg), host=host, port=port, timeout_graceful_shutdown=2,
                log_level="info", **{**uvicorn_options(cfg), **uvicorn_kw})
