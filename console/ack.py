"""Acknowledgement links, as the router's messages carry them: `<console>/ack/<token>`.

GET  /ack/<token>  a page saying what the alert is, with a button (link
                   previewers and mail scanners fetch links: a GET must not
                   use up a single-use link); reopened later, it says who took
                   the alert and when, and the outcome once resolved;
POST /ack/<token>  acknowledges (form field `name`: who is acting, optional).

No sign-in: the signed token is the authority, and each is used once
(alerts.store.acknowledge_link). The signing secret is the router's.

The page is read on a phone, by a family member opening a notification: in the
contact's language, what happened, where, since when (the home's time zone), whom
to call, and one large button. Styled by static/ack.css only (the console's CSP).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from alerts import store
from alerts.followups import Followup, headline, person
from alerts.messages import AlertView, lang_of
from alerts.tokens import AckTokenError, verify_ack_token
from anju import i18n as catalog
from console import web
from console.i18n import Words

MAX_BODY = 8192
REASON_STATUS = {"malformed": 400, "forged": 403, "expired": 410, "replayed": 409}

_ALERT = """
SELECT a.id, a.kind, a.severity, h.resident_name, h.code, h.address, h.building, h.tz,
       a.opened_at, a.since, a.summary_zh, a.summary_en, dv.room, a.evidence,
       a.state, a.acknowledged_at, a.acknowledged_by, a.resolved_at, a.resolved_by, a.outcome,
       (SELECT e.note FROM alert_events e WHERE e.alert_id = a.id AND e.action = 'resolve'
        ORDER BY e.id DESC LIMIT 1), {home_phone}
FROM alerts a JOIN homes h ON h.id = a.home_id
LEFT JOIN devices dv ON dv.id = a.device_id WHERE a.id = %s
"""

# the others told about this alert: whom the reader may call or know to be on it
_TOLD = """
SELECT c.name, c.role, {contact_phone} FROM contacts c
WHERE c.id <> %s AND c.id IN (SELECT d.contact_id FROM deliveries d WHERE d.alert_id = %s
                              AND d.purpose = 'alert' AND d.status IN ('pending', 'delivered'))
ORDER BY CASE c.role WHEN 'family' THEN 0 WHEN 'community_worker' THEN 1 ELSE 2 END, c.id
"""

# phone numbers are optional columns (homes.phone, contacts.phone): used when the schema
# has them, names alone otherwise
_PHONE_COLUMNS = """
SELECT table_name FROM information_schema.columns
WHERE table_schema = current_schema() AND column_name = 'phone'
  AND table_name IN ('homes', 'contacts')
"""


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    phone: str | None = None

    @property
    def tel(self) -> str:
        """The number as a tel: URI takes it: digits and a leading +."""
        p = (self.phone or "").strip()
        return ("+" if p.startswith("+") else "") + "".join(ch for ch in p if ch.isdigit())


@dataclass(frozen=True, kw_only=True)
class AckView:
    """Everything the page shows about one alert, in the reader's language."""

    sentence: str
    kind: str
    severity: str
    resident: str
    address: str
    room: str
    started: str
    state: str
    status: list[str] = field(default_factory=list)   # who took it, the outcome
    resident_phone: str | None = None
    told: list[Person] = field(default_factory=list)

    @property
    def resident_tel(self) -> str:
        return Person(self.resident, "resident", self.resident_phone).tel


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _lang(pool: AsyncConnectionPool, contact_id: int) -> str:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT lang FROM contacts WHERE id = %s", (contact_id,))
        row = await cur.fetchone()
    return lang_of(row[0] if row else None)


async def _phones(conn: AsyncConnection) -> set[str]:
    return {r[0] for r in await (await conn.execute(_PHONE_COLUMNS)).fetchall()}


def status_lines(row: tuple[Any, ...], view: AlertView, lang: str, now: datetime) -> list[str]:
    """已由 李娜 接手（09:14）; 已处理：电话联系上 — the alert's story since it was sent."""
    state, ack_at, ack_by, res_at, res_by, outcome, res_note = row
    lines = []
    if ack_at is not None and ack_by:
        lines.append(headline(Followup(kind="ack", view=view, at=ack_at, actor=ack_by), lang,
                              now))
    if state == "resolved" and res_at is not None:
        lines.append(headline(Followup(kind="res", view=view, at=res_at, actor=res_by,
                                       outcome=outcome, note=res_note), lang, now))
    return lines


async def load(conn: AsyncConnection, alert_id: int, contact_id: int, lang: str,
               now: datetime) -> AckView | None:
    phones = await _phones(conn)
    sql = _ALERT.format(home_phone="h.phone" if "homes" in phones else "NULL")
    row = await (await conn.execute(sql, (alert_id,))).fetchone()  # type: ignore[arg-type]
    if row is None:
        return None
    view = AlertView(*row[:12], room=row[12], evidence=row[13] or {})
    told_sql = _TOLD.format(contact_phone="c.phone" if "contacts" in phones else "NULL")
    told = [Person(*r) for r in await (await conn.execute(
        told_sql, (contact_id, alert_id))).fetchall()]  # type: ignore[arg-type]
    w = Words(lang)
    return AckView(
        sentence=(view.summary_zh if lang == "zh-CN" else view.summary_en)
        or w.kind(view.kind),
        kind=w.kind(view.kind), severity=view.severity, resident=view.resident,
        address=catalog.place(view.address, view.building) or view.home_code,
        room=w.room(view.room) if view.room else "",
        started=catalog.when(lang, view.since or view.opened_at, view.tz, now=now),
        state=row[14], status=status_lines(row[14:21], view, lang, now),
        resident_phone=row[21], told=told)


def _page(request: Request, lang: str, status: int = 200, **context: Any) -> Response:
    r = web.render(request, "ack.html", status, w=Words(lang), **context)
    r.headers["Cache-Control"] = "no-store"
    return r


def _refused(request: Request, e: AckTokenError, lang: str) -> Response:
    w = Words(lang)
    msg = w(f"ack.{e.reason}") if w.has(f"ack.{e.reason}") else str(e)
    if e.reason == "replayed":
        msg += f" ({e})"
    return _page(request, lang, REASON_STATUS.get(e.reason, 400), refused=msg)


def _gone(request: Request, lang: str) -> Response:
    return _page(request, lang, 404, refused=Words(lang)("ack.gone"))


def routes(secret: bytes | None) -> list[Route]:
    """The link's two routes; none when the console has no signing secret."""
    if secret is None:
        return []

    async def show(request: Request) -> Response:
        now = _now()
        try:
            claim = verify_ack_token(request.path_params["token"], secret, now)
        except AckTokenError as e:
            return _refused(request, e, "zh-CN")
        pool = request.app.state.pool
        lang = await _lang(pool, claim.contact_id)
        async with pool.connection() as conn:
            view = await load(conn, claim.alert_id, claim.contact_id, lang, now)
        if view is None:
            return _gone(request, lang)
        return _page(request, lang, view=view)

    async def acknowledge(request: Request) -> Response:
        try:
            length = int(request.headers.get("content-length") or 0)
        except ValueError:
            return Response("bad request", 400)
        if length > MAX_BODY:
            return Response("too large", 413)
        body = await request.body()
        if len(body) > MAX_BODY:
            return Response("too large", 413)
        form = parse_qs(body.decode("utf-8", "replace"))
        name = (form.get("name") or [""])[0][:80]
        token = request.path_params["token"]
        pool = request.app.state.pool
        lang = "zh-CN"
        now = _now()
        try:
            claim = verify_ack_token(token, secret, now)
            lang = await _lang(pool, claim.contact_id)
            async with pool.connection() as conn:
                # A genuine link to an alert that is not there (another installation's
                # secret, a restored database) is not found, not a failed insert of its use.
                cur = await conn.execute("SELECT 1 FROM alerts WHERE id = %s", (claim.alert_id,))
                if await cur.fetchone() is None:
                    raise store.AlertNotFound(claim.alert_id)
                result = await store.acknowledge_link(conn, token, secret=secret,
                                                      used_by=name or None,
                                                      remote=web.remote(request), now=now)
                view = await load(conn, claim.alert_id, claim.contact_id, lang, now)
        except AckTokenError as e:
            return _refused(request, e, lang)
        except store.AlertNotFound:
            return _gone(request, lang)
        w = Words(lang)
        done = (w("ack.done") if result.changed else
                w("ack.already", who=person(result.acknowledged_by or result.resolved_by)))
        return _page(request, lang, view=view, done=done)

    return [Route("/ack/{token:path}", show, methods=["GET"]),
            Route("/ack/{token:path}", acknowledge, methods=["POST"])]
