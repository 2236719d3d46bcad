"""The demo's notification inbox: a local page standing in for families' phones.

apprise posts JSON here (json://HOST:PORT/PATH: /HOME-CODE for a home's family,
/worker for the community worker); the page lists what arrived, newest first,
at the time it arrived in the home's time zone (Asia/Shanghai unless the home
has its own), with the date when not today. Words come from anju's catalog:
zh-CN, or English with ?lang=en.
"""

from __future__ import annotations

import html
import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from anju.i18n import DEFAULT_TZ, lang_of, sep, text, when

CSS = b"""body{font-family:sans-serif;margin:0 auto;padding:8px;max-width:720px}
ul{list-style:none;padding:0}li{border-bottom:1px solid #ddd;padding:8px 0}
pre{white-space:pre-wrap;word-break:break-word;font-family:inherit;margin:4px 0}
.who{color:#555}
"""


@dataclass(frozen=True)
class Arrival:
    at: float                 # time.time() on arrival
    path: str                 # /demo-101, /worker
    body: dict[str, Any]


class Inbox:
    """An HTTP server on a free loopback port, in its own thread."""

    def __init__(self, homes: dict[str, tuple[str, str]] | None = None) -> None:
        # home code -> (resident, time zone), to say whose family a message went to
        self.homes = dict(homes or {})
        self.messages: list[Arrival] = []
        self.lock = threading.Lock()
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    data = json.loads(raw)
                except ValueError:
                    data = {"body": raw.decode("utf-8", "replace")}
                with inbox.lock:
                    inbox.messages.append(Arrival(time.time(), self.path.split("?")[0],
                                                  data if isinstance(data, dict) else
                                                  {"body": str(data)}))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                if url.path == "/inbox.css":
                    body, ctype = CSS, "text/css; charset=utf-8"
                else:
                    lang = lang_of((parse_qs(url.query).get("lang") or [None])[0])
                    body, ctype = inbox.page(lang).encode(), "text/html; charset=utf-8"
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def zone(self, path: str) -> str:
        """The zone of the home a message is about: the family's home, else the default."""
        return self.homes.get(path.strip("/"), ("", DEFAULT_TZ))[1]

    def who(self, lang: str, path: str) -> str:
        code = path.strip("/")
        if code == "worker":
            return text(lang, "role.community_worker")
        if code in self.homes:
            return f"{text(lang, 'role.family')} · {self.homes[code][0]} ({code})"
        return code

    def page(self, lang: str) -> str:
        now = datetime.now(timezone.utc)
        with self.lock:
            arrived = list(reversed(self.messages))
        rows = []
        for m in arrived:
            tz = self.zone(m.path)
            at = when(lang, datetime.fromtimestamp(m.at, timezone.utc), tz, now=now, seconds=True)
            zone = "" if tz == DEFAULT_TZ else f" ({tz})"
            rows.append(
                f"<li><b>{html.escape(at + zone)}</b> <span class=who>{html.escape(self.who(lang, m.path))}"
                f"</span><br><b>{html.escape(str(m.body.get('title', '')))}</b>"
                f"<pre>{html.escape(str(m.body.get('message', m.body.get('body', ''))))}</pre></li>")
        title = html.escape(text(lang, "inbox"))
        empty = f"<li>{html.escape(text(lang, 'no_data'))}</li>"
        return (f"<!doctype html><html lang={'zh-CN' if lang == 'zh-CN' else 'en'}>"
                "<meta charset=utf-8><meta name=viewport content=\"width=device-width,"
                "initial-scale=1\"><meta http-equiv=refresh content=5>"
                f"<link rel=stylesheet href=/inbox.css><title>{title}</title>"
                f"<h1>{title}</h1><p>{html.escape(text(lang, 'time_zone') + sep(lang))}{DEFAULT_TZ}</p>"
                f"<ul>{''.join(rows) or empty}</ul></html>")
