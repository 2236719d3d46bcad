"""Local receivers for notifications: an HTTP endpoint and an SMTP server.

For tests and `anju bench alert` (and for trying anju out): apprise delivers
to them through its real transports (json://, form://, mailto://), and they
keep what arrived, with the time it arrived. Each runs in its own thread on a
free loopback port.
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller

from anju.host import free_port


@dataclass
class Received:
    at: float                     # time.time() on arrival
    path: str
    headers: dict[str, str]
    body: dict[str, Any]          # JSON or form fields
    raw: bytes = b""


class HttpSink:
    """Answers POSTs with `status` (200 by default; set 500 to make a channel fail)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.status = 200
        self.delay = 0.0              # seconds to wait before answering (after recording)
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ctype = self.headers.get("Content-Type", "")
                try:
                    body = (json.loads(raw) if "json" in ctype else
                            {k: v[0] for k, v in parse_qs(raw.decode()).items()})
                except ValueError:
                    body = {}
                status = sink.status
                if status < 300:
                    with sink.arrived:
                        sink.received.append(Received(time.time(), self.path,
                                                      dict(self.headers.items()), body, raw))
                        sink.arrived.notify_all()
                if sink.delay:
                    time.sleep(sink.delay)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "HttpSink":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str = "/", scheme: str = "json") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path.split("?")[0] == path]

    def wait_for(self, path: str, n: int = 1, timeout: float = 10,
                 match: Callable[[Received], bool] | None = None) -> list[Received]:
        """The first `n` messages at `path` (only those `match` accepts, when given)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                got = [r for r in self.received if r.path.split("?")[0] == path
                       and (match is None or match(r))]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(got)} of {n} messages arrived at {path} "
                                         f"within {timeout} s")
                self.arrived.wait(left)


@dataclass
class Mail:
    at: float
    sender: str
    to: list[str]
    subject: str
    text: str
    headers: dict[str, str] = field(default_factory=dict)


class SmtpSink:
    """aiosmtpd on a free loopback port, keeping every message it is given."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                part = msg.get_body(preferencelist=("plain", "html"))
                text = part.get_content() if part is not None else ""
                with sink.lock:
                    sink.mails.append(Mail(time.time(), envelope.mail_from,
                                           list(envelope.rcpt_tos), str(msg["Subject"] or ""),
                                           text, {k: str(v) for k, v in msg.items()}))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> "SmtpSink":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def url(self, to: str) -> str:
        return (f"mailto://127.0.0.1:{self.port}?from=anju@example.com&to={to}"
                "&mode=insecure")

    def to(self, address: str) -> list[Mail]:
        with self.lock:
            return [m for m in self.mails if address in m.to]

    def wait_for(self, address: str, n: int = 1, timeout: float = 10) -> list[Mail]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.to(address)
            if len(got) >= n:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(got)} of {n} mails to {address} within {timeout} s")
            time.sleep(0.05)
