"""A small HTTP endpoint for acknowledgement links, until the console serves them.

GET  /ack/<token>  a page saying what the alert is, with a button (link
                   previewers and mail scanners fetch links: a GET must not
                   use up a single-use link);
POST /ack/<token>  acknowledges (form field `name`: who is acting, optional);
GET  /healthz      200 "ok".
"""

from __future__ import annotations

import asyncio
import html
import logging
from datetime import datetime
from typing import Callable
from urllib.parse import parse_qs, unquote

from psycopg_pool import AsyncConnectionPool

from alerts import store
from alerts.messages import KIND, lang_of
from alerts.tokens import AckTokenError, verify_ack_token

log = logging.getLogger("anju.router.http")
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
STATUS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
          405: "Method Not Allowed", 409: "Conflict", 410: "Gone", 413: "Payload Too Large"}
REASON_STATUS = {"malformed": 400, "forged": 403, "expired": 410, "replayed": 409}


def _page(title: str, body: str) -> str:
    return ("<!doctype html><html><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width'>"
            f"<title>{html.escape(title)}</title></head><body>{body}</body></html>")


class AckServer:
    def __init__(self, pool: AsyncConnectionPool, secret: bytes,
                 clock: Callable[[], datetime]) -> None:
        self.pool, self.secret, self.clock = pool, secret, clock
        self.server: asyncio.base_events.Server | None = None

    async def start(self, host: str, port: int) -> int:
        self.server = await asyncio.start_server(self._handle, host, port)
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, text = await asyncio.wait_for(self._request(reader, writer), 30)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, ValueError):
            status, text = 400, _page("400", "bad request")
        except Exception:  # never let one request take the router down
            log.exception("ack endpoint")
            status, text = 500, _page("500", "internal error")
        body = text.encode()
        writer.write(f"HTTP/1.1 {status} {STATUS.get(status, 'Error')}\r\n"
                     "Content-Type: text/html; charset=utf-8\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n"
                     "Cache-Control: no-store\r\n\r\n".encode() + body)
        try:
            await writer.drain()
            writer.close()
        except ConnectionError:
            pass

    async def _request(self, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> tuple[int, str]:
        line = (await reader.readline()).decode("latin-1").split()
        headers = {}
        while True:
            h = await reader.readline()
            if h in (b"\r\n", b"\n", b""):
                break
            k, _, v = h.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        if len(line) < 2:
            return 400, _page("400", "bad request")
        method, path = line[0], line[1].split("?")[0]
        length = int(headers.get("content-length", "0") or 0)
        if length > MAX_BODY:
            return 413, _page("413", "too large")
        body = await reader.readexactly(length) if length else b""
        if path == "/healthz":
            return 200, "ok"
        if not path.startswith("/ack/"):
            return 404, _page("404", "not found")
        token = unquote(path[len("/ack/"):])
        peer = writer.get_extra_info("peername")
        remote = headers.get("x-forwarded-for") or (peer[0] if peer else "")
        if method == "GET":
            return await self._show(token)
        if method == "POST":
            form = parse_qs(body.decode("utf-8", "replace"))
            name = (form.get("name") or [""])[0][:80]
            return await self._ack(token, name, remote)
        return 405, _page("405", "method not allowed")

    async def _lang(self, contact_id: int) -> str:
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT lang FROM contacts WHERE id = %s", (contact_id,))
            row = await cur.fetchone()
        return lang_of(row[0] if row else None)

    def _refused(self, e: AckTokenError, lang: str) -> tuple[int, str]:
        t = PAGE[lang]
        msg = t.get(e.reason, str(e))
        if e.reason == "replayed":
            msg += f" ({html.escape(str(e))})"
        return REASON_STATUS.get(e.reason, 400), _page(t["refused"], f"<p>{msg}</p>")

    async def _show(self, token: str) -> tuple[int, str]:
        try:
            claim = verify_ack_token(token, self.secret, self.clock())
        except AckTokenError as e:
            return self._refused(e, "zh-CN")
        lang = await self._lang(claim.contact_id)
        t = PAGE[lang]
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT a.kind, a.state, a.acknowledged_by, h.resident_name,"
                " CASE WHEN %s = 'en' THEN a.summary_en ELSE a.summary_zh END"
                " FROM alerts a JOIN homes h ON h.id = a.home_id WHERE a.id = %s",
                (lang, claim.alert_id))
            row = await cur.fetchone()
        if row is None:
            return 404, _page(t["refused"], f"<p>{t['gone']}</p>")
        kind, state, by, resident, summary = row
        head = (f"<h1>{html.escape(resident)}: {html.escape(KIND[lang].get(kind, kind))}</h1>"
                f"<p>{html.escape(summary)}</p>")
        if state != "open":
            return 200, _page(t["title"], head + f"<p>{t['already'].format(who=html.escape(by or state))}</p>")
        form = (f"<form method='post'><label>{t['name']} <input name='name'></label> "
                f"<button type='submit'>{t['button']}</button></form>")
        return 200, _page(t["title"], head + form)

    async def _ack(self, token: str, name: str, remote: str) -> tuple[int, str]:
        lang = "zh-CN"
        try:
            claim = verify_ack_token(token, self.secret, self.clock())
            lang = await self._lang(claim.contact_id)
            async with self.pool.connection() as conn:
                # A genuine link to an alert that is not there (another installation's
                # secret, a restored database) is not found, not a failed insert of its use.
                cur = await conn.execute("SELECT 1 FROM alerts WHERE id = %s", (claim.alert_id,))
                if await cur.fetchone() is None:
                    raise store.AlertNotFound(claim.alert_id)
                result = await store.acknowledge_link(conn, token, secret=self.secret,
                                                    used_by=name or None, remote=remote,
                                                    now=self.clock())
        except AckTokenError as e:
            return self._refused(e, lang)
        except store.AlertNotFound:
            return 404, _page(PAGE[lang]["refused"], f"<p>{PAGE[lang]['gone']}</p>")
        t = PAGE[lang]
        if result.changed:
            return 200, _page(t["title"], f"<p>{t['done']}</p>")
        who = html.escape(result.acknowledged_by or result.resolved_by or "")
        return 200, _page(t["title"], f"<p>{t['already'].format(who=who)}</p>")
