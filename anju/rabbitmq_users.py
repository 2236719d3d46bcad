"""Device credentials and permissions on a RabbitMQ broker (the clustered broker,
docs/cluster-broker.md), through its management HTTP API.

The registry stays the one source of the credentials: each device's password is hashed at
provisioning in RabbitMQ's own format too (anju.broker.rabbit_hash), and `sync()` makes
the broker's device users match the registry's active devices and gateways — the plain
password is never needed again. Device users carry the tag `anju-device`, so a sync
deletes the ones whose device was removed or retired and never touches the service
accounts (anju-ingest, the administrators).

Permissions, per device user: write on `amq.topic` only (the MQTT plugin publishes there),
nothing to configure or read (a SUBSCRIBE, which must declare a queue, is refused), and a
topic permission that lets it write only routing keys under its own name.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Callable, Iterable

VHOST = "/"
EXCHANGE = "amq.topic"
TAG = "anju-device"
HASHING = "rabbit_password_hashing_sha256"

Call = Callable[[str, str, object], object]   # (method, path under /api/, body) -> JSON


def device_routing_pattern(device_id: str) -> str:
    """The regular expression of the routing keys a device may write: one level below its
    own name (the kind, `batch` or `status`). A `.` in a device id stays a `.` in the
    routing key (the plugin translates only `/`), so it is escaped; the single level after
    the id keeps device `a` from writing as device `a.b`."""
    return r"^anju\.v1\.devices\." + re.escape(device_id) + r"\.[^.]+$"


def gateway_routing_pattern(gateway_id: str) -> str:
    """A gateway writes for the devices registered behind it: its name, then two levels
    (the device's external name, then the kind, `batch` or `status`)."""
    return r"^anju\.v1\.gateways\." + re.escape(gateway_id) + r"\.[^.]+\.[^.]+$"


class ApiError(Exception):
    pass


@dataclass
class ManagementApi:
    """The management API of one or more nodes: the first that answers serves each call.

    `urls` are `http://user:password@host:15672` (from ANJU_RABBITMQ_API, comma-separated);
    the password is sent as Basic auth and appears in no message."""

    urls: list[str]
    timeout: float = 30.0

    @staticmethod
    def parse(value: str) -> "ManagementApi":
        urls = [u.strip() for u in value.split(",") if u.strip()]
        for u in urls:
            p = urllib.parse.urlsplit(u)
            if p.scheme not in ("http", "https") or not p.hostname or not p.username:
                raise ApiError("ANJU_RABBITMQ_API: expected http(s)://USER:PASSWORD@HOST:PORT "
                               "of the management API, comma-separated for several nodes; "
                               f"got one starting {p.scheme or '?'}://{p.hostname or '?'}")
        if not urls:
            raise ApiError("ANJU_RABBITMQ_API is empty: give the management API's URL "
                           "(http://USER:PASSWORD@HOST:15672)")
        return ManagementApi(urls)

    def __call__(self, method: str, path: str, body: object = None) -> object:
        data = json.dumps(body).encode() if body is not None else None
        err = "no URL"
        for u in self.urls:
            p = urllib.parse.urlsplit(u)
            auth = base64.b64encode(
                f"{urllib.parse.unquote(p.username or '')}:"
                f"{urllib.parse.unquote(p.password or '')}".encode()).decode()
            host = f"{p.scheme}://{p.hostname}:{p.port or 15672}"
            req = urllib.request.Request(f"{host}/api/{path}", data=data, method=method,
                                         headers={"Authorization": f"Basic {auth}",
                                                  "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as r:
                    text = r.read()
                return json.loads(text) if text else None
            except urllib.error.HTTPError as e:
                raise ApiError(f"RabbitMQ at {host}: {method} {path.split('/')[0]} answered "
                               f"{e.code} {e.reason}") from None
            except OSError as e:
                err = f"{host}: {e}"
        raise ApiError(f"no RabbitMQ node answers the management API ({err})")


def put_device(call: Call, device_id: str, *, password: str | None = None,
               password_hash: str | None = None, gateway: bool = False,
               tags: str = TAG) -> None:
    """Create or update one device's (or gateway's) user and permissions; `tags` "" for a
    user the registry does not own (sync() leaves it alone)."""
    v = urllib.parse.quote(VHOST, safe="")
    u = urllib.parse.quote(device_id, safe="")
    user: dict[str, object] = {"tags": tags}
    if password_hash is not None:
        user.update(password_hash=password_hash, hashing_algorithm=HASHING)
    else:
        user["password"] = password
    call("PUT", f"users/{u}", user)
    call("PUT", f"permissions/{v}/{u}",
         {"configure": "^$", "write": "^" + re.escape(EXCHANGE) + "$", "read": "^$"})
    pattern = gateway_routing_pattern if gateway else device_routing_pattern
    call("PUT", f"topic-permissions/{v}/{u}",
         {"exchange": EXCHANGE, "write": pattern(device_id), "read": "^$"})


@dataclass
class SyncReport:
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    no_hash: tuple[str, ...] = ()     # provisioned before RabbitMQ hashes were kept


def sync(call: Call, users: Iterable[tuple[str, str | None, str]]) -> SyncReport:
    """Make the broker's device users those of `users` (registry.rabbit_users): add the
    missing, update a changed password, delete `anju-device` users no longer listed.
    One GET when nothing changed, so it can run after every provisioning."""
    have = {}
    for u in call("GET", "users", None) or []:    # type: ignore[union-attr]
        have[u["name"]] = u                         # type: ignore[index]
    report = SyncReport()
    wanted = set()
    missing = []
    for name, rabbit, role in users:
        wanted.add(name)               # kept as it is, even without a hash to compare
        if rabbit is None:
            missing.append(name)
            continue
        old = have.get(name)
        if old is not None and old.get("password_hash") == rabbit and TAG in _tags(old):
            report.unchanged += 1
            continue
        put_device(call, name, password_hash=rabbit, gateway=role == "gateway")
        if old is None:
            report.added += 1
        else:
            report.updated += 1
    for name, u in have.items():
        if TAG in _tags(u) and name not in wanted:
            call("DELETE", f"users/{urllib.parse.quote(name, safe='')}", None)
            report.deleted += 1
    report.no_hash = tuple(missing)
    return report


def _tags(user: object) -> list[str]:
    tags = user.get("tags", []) if isinstance(user, dict) else []
    return tags.split(",") if isinstance(tags, str) else list(tags)
