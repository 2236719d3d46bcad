"""Live updates: one LISTEN connection, fanned out to each browser's event stream.

The detectors NOTIFY `anju_alerts` with an alert id when they open or clear
an alert, the router and the console when someone acknowledges or resolves
one. The hub looks up where the alert belongs once and hands the event to
every connected user whose scope covers that home. A browser that cannot
keep up is told to reload its board instead of queueing without bound.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from console.auth import User
from console.sql import alerts as alerts_sql
from console.web import current_user, problem

log = logging.getLogger("anju.console.live")

CHANNEL = "anju_alerts"
QUEUE_SIZE = 64
PING_S = 15.0


@dataclass(eq=False)
class Client:
    user: User
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: int = 0

    def offer(self, event: str) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed += 1
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(sse("refresh", {}))


def sse(event: str, data: dict[str, object]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


class Hub:
    def __init__(self, pool: AsyncConnectionPool, database_url: str) -> None:
        self.pool = pool
        self.url = database_url
        self.clients: set[Client] = set()
        self.listening = asyncio.Event()
        self.notifications = 0

    def connect(self, user: User) -> Client:
        c = Client(user)
        self.clients.add(c)
        return c

    def disconnect(self, c: Client) -> None:
        self.clients.discard(c)

    async def publish(self, alert_id: int) -> None:
        """Tell every client that may see this alert that it changed."""
        if not self.clients:
            return
        async with self.pool.connection() as conn:
            cur = await conn.execute(alerts_sql.ALERT_PLACE, (alert_id,))
            row = await cur.fetchone()
        if row is None:
            return
        aid, severity, state, home_id, community_id, building = row
        event = sse("alert", {"id": aid, "severity": severity, "state": state})
        for c in list(self.clients):
            if c.user.sees(community_id, building, home_id):
                c.offer(event)

    async def run(self) -> None:
        """LISTEN for ever, reconnecting with backoff; on reconnect every board reloads."""
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    if delay > 0.5:      # we missed notifications while away
                        for c in list(self.clients):
                            c.offer(sse("refresh", {}))
                    delay = 0.5
                    self.listening.set()
                    async for n in conn.notifies():
                        self.notifications += 1
                        try:
                            await self.publish(int(n.payload))
                        except ValueError:
                            log.warning("ignoring notification %r", n.payload)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - any failure: reconnect
                self.listening.clear()
                log.warning("alert listener: %s; reconnecting in %.1f s", e, delay)
                await asyncio.sleep(delay * (1 + random.random() / 2))
                delay = min(delay * 2, 15.0)


# -- the event stream -----------------------------------------------------------------


async def events(request: Request) -> Response:
    """Server-sent events: `alert` when an alert in the user's scope opens or changes."""
    user = await current_user(request)
    if user is None:
        return problem(401, "sign in first")
    hub = request.app.state.hub

    async def stream() -> Any:
        client = hub.connect(user)
        try:
            yield "retry: 1000\n" + sse("hello", {"user": user.username})
            while True:
                try:
                    yield await asyncio.wait_for(client.queue.get(), PING_S)
                except asyncio.TimeoutError:
                    yield ": ping\n\n"
        finally:
            hub.disconnect(client)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
