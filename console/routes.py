"""Every route of the console: each action's page and API endpoint (console/ops), and the
routes that are no action (signing in, the language, the live stream, health, the API's
description, static files)."""

from __future__ import annotations

from importlib import resources

import psycopg
from psycopg_pool import PoolTimeout
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from anju import asyncapi
from console import action, live, openapi, signin
from console.live import Hub
from console.ops import alerts, devices, homes, manage, reports, visits

OPS = alerts.OPS + homes.OPS + visits.OPS + reports.OPS + manage.OPS + devices.OPS


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


FAVICON = resources.files("console").joinpath("static/favicon.svg").read_bytes()


async def favicon(request: Request) -> Response:
    """Browsers ask for /favicon.ico whatever the page links: the same house, as SVG."""
    return Response(FAVICON, media_type="image/svg+xml",
                    headers={"cache-control": "public, max-age=86400"})


async def openapi_json(request: Request) -> Response:
    return JSONResponse(openapi.document(OPS))


DEVICE_CONTRACT = asyncapi.document()


async def device_contract(request: Request) -> Response:
    """The device contract as AsyncAPI: public and cacheable, since vendors need it before
    they have an account and it holds no secrets (no address, no credentials)."""
    return JSONResponse(DEVICE_CONTRACT, headers={"cache-control": "public, max-age=3600"})


def routes() -> list[BaseRoute]:
    return [
        Route("/", signin.root),
        Route("/login", signin.login, methods=["GET", "POST"]),
        Route("/logout", signin.logout, methods=["POST"]),
        Route("/lang/{code}", signin.set_lang),
        Route("/events", live.events),
        Route("/healthz", health),
        Route("/favicon.ico", favicon),
        Route("/api/v1/openapi.json", openapi_json),
        Route("/api/v1/device-contract", device_contract),
        *action.routes(OPS),
        Mount("/static", StaticFiles(packages=[("console", "static")]), name="static"),
    ]
