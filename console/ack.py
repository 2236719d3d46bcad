"""Acknowledgement links, as the router's messages carry them: `<console>/ack/<token>`.

GET  /ack/<token>  a page saying what the alert is, with a button (link
                   previewers and mail scanners fetch links: a GET must not
                   use up a single-use link);
POST /ack/<token>  acknowledges (form field `name`: who is acting, optional).

No sign-in: the signed token is the authority, and each is used once
(alerts.store.acknowledge_link). The signing secret is the router's.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone
from urllib.parse import parse_qs

from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from alerts import store
from alerts.messages import KIND, lang_of
from alerts.tokens import AckTokenError, verify_ack_token
from console import web

MAX_BODY = 8192

PAGE = {
    "zh-CN": {"title": "确认处理", "button": "我来处理", "name": "您的姓名（可选）",
              "done": "已确认，谢谢。其他人将不再收到此提醒。",
              "already": "此提醒已由 {who} 确认。", "refused": "链接无效",
              "malformed": "这不是有效的确认链接。", "forged": "链接签名无效。",
              "expired": "链接已过期，请联系社区服务中心。", "replayed": "此链接已被使用过。",
              "gone": "找不到这条提醒。"},
    "en": {"title": "Acknowledge", "button": "I'm on it", "name": "Your name (optional)",
           "done": "Acknowledged, thank you. Nobody else will be alerted about this.",
           "already": "This alert was already acknowledged by {who}.", "refused": "Link refused",
           "malformed": "This is not an acknowledgement link.",
           "forged": "The link's signature is not valid.",
           "expired": "The link has expired; please call the community centre.",
           "replayed": "This link has already been used.", "gone": "No such alert."},
}
REASON_STATUS = {"malformed": 400, "forged": 403, "expired": 410, "replayed": 409}


def _page(status: int, title: str, body: str) -> Response:
    text = ("<!doctype html><html><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width'>"
            f"<title>{html.escape(title)}</title></head><body>{body}</body></html>")
    return HTMLResponse(text, status_code=status, headers={"Cache-Control": "no-store"})


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _lang(pool: AsyncConnectionPool, contact_id: int) -> str:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT lang FROM contacts WHERE id = %s", (contact_id,))
        row = await cur.fetchone()
    return lang_of(row[0] if row else None)


def _refused(e: AckTokenError, lang: str) -> Response:
    t = PAGE[lang]
    msg = t.get(e.reason, str(e))
    if e.reason == "replayed":
        msg += f" ({html.escape(str(e))})"
    return _page(REASON_STATUS.get(e.reason, 400), t["refused"], f"<p>{msg}</p>")


def routes(secret: bytes | None) -> list[Route]:
    """The link's two routes; none when the console has no signing secret."""
    if secret is None:
        return []

    async def show(request: Request) -> Response:
        try:
            claim = verify_ack_token(request.path_params["token"], secret, _now())
        except AckTokenError as e:
            return _refused(e, "zh-CN")
        pool = request.app.state.pool
        lang = await _lang(pool, claim.contact_id)
        t = PAGE[lang]
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT a.kind, a.state, a.acknowledged_by, h.resident_name,"
                " CASE WHEN %s = 'en' THEN a.summary_en ELSE a.summary_zh END"
                " FROM alerts a JOIN homes h ON h.id = a.home_id WHERE a.id = %s",
                (lang, claim.alert_id))
            row = await cur.fetchone()
        if row is None:
            return _page(404, t["refused"], f"<p>{t['gone']}</p>")
        kind, state, by, resident, summary = row
        head = (f"<h1>{html.escape(resident)}: {html.escape(KIND[lang].get(kind, kind))}</h1>"
                f"<p>{html.escape(summary)}</p>")
        if state != "open":
            who = html.escape(by or state)
            return _page(200, t["title"], head + f"<p>{t['already'].format(who=who)}</p>")
        form = (f"<form method='post'><label>{t['name']} <input name='name'></label> "
                f"<button type='submit'>{t['button']}</button></form>")
        return _page(200, t["title"], head + form)

    async def acknowledge(request: Request) -> Response:
        try:
            length = int(request.headers.get("content-length") or 0)
        except ValueError:
            return _page(400, "400", "bad request")
        if length > MAX_BODY:
            return _page(413, "413", "too large")
        body = await request.body()
        if len(body) > MAX_BODY:
            return _page(413, "413", "too large")
        form = parse_qs(body.decode("utf-8", "replace"))
        name = (form.get("name") or [""])[0][:80]
        token = request.path_params["token"]
        pool = request.app.state.pool
        lang = "zh-CN"
        try:
            claim = verify_ack_token(token, secret, _now())
            lang = await _lang(pool, claim.contact_id)
            async with pool.connection() as conn:
                # A genuine link to an alert that is not there (another installation's
                # secret, a restored database) is not found, not a failed insert of its use.
                cur = await conn.execute("SELECT 1 FROM alerts WHERE id = %s", (claim.alert_id,))
                if await cur.fetchone() is None:
                    raise store.AlertNotFound(claim.alert_id)
                result = await store.acknowledge_link(conn, token, secret=secret,
                                                      used_by=name or None,
                                                      remote=web.remote(request), now=_now())
        except AckTokenError as e:
            return _refused(e, lang)
        except store.AlertNotFound:
            return _page(404, PAGE[lang]["refused"], f"<p>{PAGE[lang]['gone']}</p>")
        t = PAGE[lang]
        if result.changed:
            return _page(200, t["title"], f"<p>{t['done']}</p>")
        who = html.escape(result.acknowledged_by or result.resolved_by or "")
        return _page(200, t["title"], f"<p>{t['already'].format(who=who)}</p>")

    return [Route("/ack/{token:path}", show, methods=["GET"]),
            Route("/ack/{token:path}", acknowledge, methods=["POST"])]
