"""The people a soak run notifies, and who answer: real local endpoints and a responder.

Families are told over HTTP (apprise's json://), some through a first channel that is down (a
closed port), so that the router has to fall back to the next; community workers by e-mail
(apprise's mailto:// to a local SMTP server); property management over HTTP. Every message that
arrives is kept with its arrival time: that is "delivered to a person". A simulated person then
acknowledges some alerts after a random delay, a family member through the link in the
message, an operator through the console's API, as they would.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import random
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

import psycopg

from alerts.manage import ContactSpec, add_contact
from devtools.sinks import HttpSink, SmtpSink

LINK = re.compile(r"https?://[^\s\"'<>]+/ack/([0-9]+)\.[0-9]+\.[A-Za-z0-9._~%-]+")
WORKER_MAIL = "worker@soak.example"


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released): a channel that is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Arrival:
    at: float
    alert_id: int
    who: str            # family, worker, property, operators
    home: str | None
    link: str | None


class Endpoints:
    """The HTTP receiver and the SMTP server, and what arrived at them, by alert."""

    def __init__(self) -> None:
        self.http = HttpSink().start()
        self.smtp = SmtpSink().start()
        self.down = f"json://127.0.0.1:{closed_port()}/phone"
        self._seen_http = 0
        self._seen_mail = 0
        self.arrivals: list[Arrival] = []
        self.unparsed = 0

    def stop(self) -> None:
        self.http.stop()
        self.smtp.stop()

    def family_urls(self, code: str, first_fails: bool) -> list[str]:
        url = self.http.url(f"/family/{code}")
        return [self.down, url] if first_fails else [url]

    def poll(self) -> list[Arrival]:
        """What arrived since the last call, with the alert each message is about."""
        new: list[Arrival] = []
        with self.http.lock:
            got = self.http.received[self._seen_http:]
            self._seen_http += len(got)
        for r in got:
            path = r.path.split("?")[0]
            parts = path.strip("/").split("/")
            who = parts[0] if parts else "?"
            text = json.dumps(r.body, ensure_ascii=False)
            new += self._arrival(r.at, who, parts[1] if len(parts) > 1 else None, text)
        with self.smtp.lock:
            mails = self.smtp.mails[self._seen_mail:]
            self._seen_mail += len(mails)
        for m in mails:
            new += self._arrival(m.at, "worker", None, m.subject + "\n" + m.text)
        self.arrivals += new
        return new

    def _arrival(self, at: float, who: str, home: str | None, text: str) -> list[Arrival]:
        links = {int(m.group(1)): m.group(0) for m in LINK.finditer(text)}
        if not links:
            if who != "operators":
                self.unparsed += 1       # a summary or a notice without a link
            return [Arrival(at, 0, who, home, None)] if who == "operators" else []
        return [Arrival(at, a, who, home, link) for a, link in links.items()]


def add_contacts(conn: psycopg.Connection, ep: Endpoints, codes: list[str], community: str,
                 rng: random.Random, failing_share: float = 0.2) -> dict[str, bool]:
    """A family contact per home (a share with a first channel that is down), the community's
    worker by e-mail, its property management over HTTP. Returns home -> first channel fails."""
    fails = {}
    for code in codes:
        fails[code] = rng.random() < failing_share
        add_contact(conn, ContactSpec(role="family", name=f"{code} 家属",
                                      urls=ep.family_urls(code, fails[code]), home=code))
    add_contact(conn, ContactSpec(role="community_worker", name="社区网格员",
                                  urls=[ep.smtp.url(WORKER_MAIL)], community=community))
    add_contact(conn, ContactSpec(role="property", name="物业值班",
                                  urls=[ep.http.url("/property")], community=community))
    return fails


class Console:
    """An operator's session on the console, as a browser would hold it (cookies, CSRF)."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.base, self.username, self.password = base, username, password
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar),
                                                  _NoRedirect())
        self.csrf: str | None = None

    def _open(self, path: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
        req = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with self.opener.open(req, timeout=15) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def sign_in(self) -> None:
        status, page = self._open("/login")
        m = re.search(rb'name="csrf" value="([^"]+)"', page)
        if status != 200 or not m:
            raise OSError(f"console sign-in page: HTTP {status}")
        form = urllib.parse.urlencode({"username": self.username, "password": self.password,
                                       "csrf": m.group(1).decode()}).encode()
        status, _ = self._open("/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 303:
            raise OSError(f"console sign-in: HTTP {status}")
        status, me = self._open("/api/v1/me")
        if status != 200:
            raise OSError(f"console /api/v1/me: HTTP {status}")
        self.csrf = json.loads(me)["csrf_token"]

    def acknowledge(self, alert_id: int, note: str) -> int:
        if self.csrf is None:
            self.sign_in()
        body = json.dumps({"note": note}).encode()
        status, _ = self._open(f"/api/v1/alerts/{alert_id}/acknowledge", body,
                               {"Content-Type": "application/json", "X-CSRF-Token": self.csrf or ""})
        if status in (401, 403):           # the session was lost (a restart): sign in again
            self.csrf = None
        return status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def ack_link(link: str, name: str) -> int:
    data = urllib.parse.urlencode({"name": name}).encode()
    req = urllib.request.Request(link, data=data,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@dataclass
class Ack:
    alert_id: int
    via: str            # link, console
    planned_at: float
    done_at: float | None = None
    status: int = 0
    tries: int = 0


@dataclass
class Responder:
    """Answers some of what arrives after a human delay. A family member opens the link; the
    community worker's message is answered by the centre's operator in the console."""
    console: Console
    rng: random.Random
    family_share: float = 0.6
    operator_share: float = 0.5
    delay_s: tuple[float, float] = (10.0, 75.0)
    acks: dict[int, Ack] = field(default_factory=dict)
    _tasks: set = field(default_factory=set)

    def hear(self, arrivals: list[Arrival]) -> None:
        for a in arrivals:
            if not a.alert_id or a.alert_id in self.acks:
                continue
            if a.who == "family" and a.link and self.rng.random() < self.family_share:
                via = "link"
            elif a.who == "worker" and self.rng.random() < self.operator_share:
                via = "console"
            else:
                continue
            ack = Ack(a.alert_id, via, time.time() + self.rng.uniform(*self.delay_s))
            self.acks[a.alert_id] = ack
            t = asyncio.get_running_loop().create_task(self._answer(ack, a.link))
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)

    async def _answer(self, ack: Ack, link: str | None) -> None:
        await asyncio.sleep(max(0.0, ack.planned_at - time.time()))
        while ack.tries < 6:
            ack.tries += 1
            try:
                if ack.via == "link" and link:
                    ack.status = await asyncio.to_thread(ack_link, link, "家属")
                else:
                    ack.status = await asyncio.to_thread(self.console.acknowledge, ack.alert_id,
                                                         "已电话联系，社区人员上门查看")
            except OSError:
                ack.status = 0
            if ack.status in (200, 303):
                ack.done_at = time.time()
                return
            if ack.status == 409 or 400 <= ack.status < 500 and ack.status not in (401, 403):
                return                   # already handled by someone else, or refused: a finding
            await asyncio.sleep(10)      # the console or router is down (a fault): try again

    @property
    def pending(self) -> int:
        return len(self._tasks)
