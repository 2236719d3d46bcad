"""Settings: defaults, then a TOML config file, then ANJU_* environment variables.

A bad setting raises SettingsError naming the key, the value and the fix.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
import typing
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from msgspec import Meta
from psycopg import ProgrammingError
from psycopg.conninfo import conninfo_to_dict

from anju.typed_config import Reason, Refused, cli_lang, convert


class SettingsError(ValueError):
    """A configuration value is missing or invalid; the message says how to fix it."""


# A whole number; a field's limits are a Meta beside it.
Whole = Annotated[int, Meta(extra={"wrong_type": "a whole number"})]


class IngestSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    batch_size: Annotated[Whole, Meta(ge=1, le=100_000)] = 2000
    flush_ms: Annotated[Whole, Meta(ge=1, le=10_000)] = 50
    queue_max: Annotated[Whole, Meta(ge=100, le=10_000_000)] = 20_000
    max_future_s: Whole = 300
    max_past_s: Whole = 7 * 86400
    metrics_port: Annotated[Whole, Meta(ge=0, le=65535)] = 0
    # Empty: one worker on a plain subscription, which the broker restores after its own
    # restart. Mosquitto does not restore shared subscriptions: with a group, what devices
    # publish between a broker restart and the workers' resubscription is lost (measured).
    share_group: str = ""
    client_id: str = ""
    # rollups and retention every this many seconds; 0 = never
    maintenance_s: Annotated[Whole, Meta(ge=0, le=86400)] = 300
    # What one message may hold (a device may send anything; none of it may stop the
    # ingest): JSON nesting, the length of a text field, the payload (under the
    # broker's max_packet_size, so an oversize one is quarantined, not a reset socket).
    max_depth: Annotated[Whole, Meta(ge=2, le=64)] = 16
    max_string: Annotated[Whole, Meta(ge=16, le=65536)] = 256
    max_payload: Annotated[Whole, Meta(ge=256, le=120_000)] = 64 * 1024
    # Quarantine per device and hour: this many rejected messages kept (payloads cut to
    # quarantine_bytes, their length kept), the rest only counted by reason.
    quarantine_per_hour: Annotated[Whole, Meta(ge=1, le=1_000_000)] = 100
    quarantine_bytes: Annotated[Whole, Meta(ge=64, le=120_000)] = 4096


class ConsoleSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For and
    # X-Forwarded-Proto are believed. From any other client the headers are
    # ignored: believing them would let a client choose the address its sign-in
    # attempts are counted against.
    trusted_proxies: tuple[str, ...] = ()
    secure_cookies: bool = False      # mark cookies Secure though the console speaks plain HTTP
    inbox_url: str | None = None      # a local notification inbox, linked for staff (the demo)


class DetectSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # Partitioned detectors (docs/detectors.md): several `anju detect` processes share the
    # homes, each holding partitions under a lease. Off: one process watches every home.
    # Every detector of one database must use the same number of partitions.
    partitioned: bool = False
    partitions: Annotated[Whole, Meta(ge=1, le=4096)] = 64
    # a dead detector's homes are taken over within this; renewed every third of it
    lease_s: Annotated[Whole, Meta(ge=3, le=600, extra={"unit": "(seconds)"})] = 30


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    state_dir: Path = Path(".anju")
    # One host, or libpq's list for a replicated PostgreSQL:
    # postgresql://u:pw@10.0.0.1:5432,10.0.0.2:5432/anju?target_session_attrs=read-write
    database_url: str | None = None
    # Reads that may lag the primary (the console's charts) may go here, e.g. the same hosts
    # with target_session_attrs=prefer-standby; none: they use database_url.
    database_read_url: str | None = None
    mqtt_url: str | None = None
    default_tz: str = "Asia/Shanghai"
    retention_days: Annotated[Whole, Meta(ge=1, extra={"unit": "(days)"})] = 90
    rollup_retention_days: Annotated[Whole, Meta(ge=1, extra={"unit": "(days)"})] = 730
    ingest: IngestSettings = msgspec.field(default_factory=IngestSettings)
    console: ConsoleSettings = msgspec.field(default_factory=ConsoleSettings)
    detect: DetectSettings = msgspec.field(default_factory=DetectSettings)

    @property
    def embedded(self) -> bool:
        """True when anju runs its own PostgreSQL and Mosquitto under state_dir."""
        return self.database_url is None and self.mqtt_url is None

    @property
    def read_url(self) -> str | None:
        """Where reads that may lag go: database_read_url, else database_url."""
        return self.database_read_url or self.database_url


_ENV = {
    "ANJU_STATE_DIR": "state_dir",
    "ANJU_DATABASE_URL": "database_url",
    "ANJU_DATABASE_READ_URL": "database_read_url",
    "ANJU_MQTT_URL": "mqtt_url",
    "ANJU_DEFAULT_TZ": "default_tz",
    "ANJU_RETENTION_DAYS": "retention_days",
    "ANJU_ROLLUP_RETENTION_DAYS": "rollup_retention_days",
}
_TABLES = {"ingest": "ANJU_INGEST_", "console": "ANJU_CONSOLE_", "detect": "ANJU_DETECT_"}
_BOOLS = {"1": True, "true": True, "yes": True, "on": True,
          "0": False, "false": False, "no": False, "off": False}


def _as_written(data: dict[str, Any], struct: type[msgspec.Struct]) -> dict[str, Any]:
    """Values as people write them, made plain for msgspec: yes/no/on/off, a comma-separated
    list, an empty text for none. Numbers in text are read by msgspec (strict=False)."""
    types = {f.name: f.type for f in msgspec.structs.fields(struct)}
    out = {}
    for key, value in data.items():
        t = types.get(key)
        args = typing.get_args(t)
        if isinstance(t, type) and issubclass(t, msgspec.Struct) and isinstance(value, dict):
            value = _as_written(value, t)
        elif t is bool and isinstance(value, str):
            value = _BOOLS.get(value.strip().lower(), value)
        elif typing.get_origin(t) is tuple:
            items = value.split(",") if isinstance(value, str) else value
            if isinstance(items, list) and all(isinstance(i, str) for i in items):
                value = tuple(i.strip() for i in items if i.strip())
        elif type(None) in args and value == "":
            value = None
        elif args and args[0] is int and isinstance(value, str):
            value = value.strip()
        out[key] = value
    return out


def _settings(data: dict[str, Any]) -> Settings:
    try:
        return convert(_as_written(data, Settings), Settings, strict=False)
    except Refused as e:
        if e.reason is Reason.UNKNOWN:
            raise SettingsError(f"unknown setting {e.key}; known keys: "
                                f"{', '.join(sorted(e.known))}") from None
        if e.key in _TABLES and e.at == e.key:
            raise SettingsError(f"{e.key} must be a table ([{e.key}])") from None
        raise SettingsError(e.text(cli_lang())) from None   # the operator's language


# What libpq 15 accepts for target_session_attrs (psycopg emulates prefer-standby itself).
SESSION_ATTRS = ("any", "read-write", "read-only", "primary", "standby", "prefer-standby")
_PG_FORM = ("postgresql://user:password@host:port/anju, or for several servers "
            "postgresql://user:password@host1:port1,host2:port2/anju"
            "?target_session_attrs=read-write")


def _database_url_problem(url: str) -> str | None:
    """Why libpq could not use this URL (one host or a host list), or None."""
    if urlsplit(url).scheme not in ("postgresql", "postgres"):
        return "not a postgresql:// URL"
    try:
        params = conninfo_to_dict(url)
    except ProgrammingError as e:  # libpq's own words: an unknown parameter, a bad escape
        why = str(e).strip()
        password = urlsplit(url).password
        return why.replace(password, "***") if password else why
    hosts = params.get("host", "").split(",")
    if any(not h for h in hosts):
        return "a host is missing (an empty name in the host list)"
    ports = params.get("port", "").split(",") if params.get("port") else []
    if ports and len(ports) not in (1, len(hosts)):
        return f"{len(hosts)} hosts but {len(ports)} ports"
    for port in ports:
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            return f"port {port!r} is not a number from 1 to 65535"
    attrs = params.get("target_session_attrs")
    if attrs is not None and attrs not in SESSION_ATTRS:
        return f"target_session_attrs={attrs!r}; expected one of {', '.join(SESSION_ATTRS)}"
    return None


def _validate(s: Settings) -> Settings:
    for key, env, url in (("database_url", "ANJU_DATABASE_URL", s.database_url),
                          ("database_read_url", "ANJU_DATABASE_READ_URL", s.database_read_url)):
        why = None if url is None else _database_url_problem(url)
        if why:
            raise SettingsError(f"{key}={_redact(url or '')!r} ({env}): {why}; expected {_PG_FORM}")
    if s.database_read_url is not None and s.database_url is None:
        raise SettingsError("database_read_url (ANJU_DATABASE_READ_URL) is set without "
                            "database_url (ANJU_DATABASE_URL); set both, or neither")
    if s.mqtt_url is not None:
        parts = urlsplit(s.mqtt_url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise SettingsError(
                f"mqtt_url={_redact(s.mqtt_url)!r}: expected mqtt://user:password@host:port/...")
    if (s.database_url is None) != (s.mqtt_url is None):
        missing = "mqtt_url (ANJU_MQTT_URL)" if s.mqtt_url is None else "database_url (ANJU_DATABASE_URL)"
        raise SettingsError(
            f"only one external server is configured; set {missing} too, or neither "
            "to use the embedded servers under state_dir")
    try:
        ZoneInfo(s.default_tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"default_tz={s.default_tz!r}: expected an IANA time zone such as Asia/Shanghai") from None
    for proxy in s.console.trusted_proxies:
        try:
            ipaddress.ip_network(proxy)
        except ValueError as e:
            raise SettingsError(
                f"console.trusted_proxies={proxy!r} (ANJU_CONSOLE_TRUSTED_PROXIES): {e}; expected "
                "IP addresses or networks such as 10.0.0.5 or 10.0.0.0/24") from None
    return s


def _redact(url: str) -> str:
    """The URL with its password (in the user part, or a password= parameter) as ***."""
    scheme, sep, rest = url.partition("://")
    # The user part ends at the last @ before the query (a password may hold / or @).
    at = rest.split("?", 1)[0].rfind("@")
    if sep and at >= 0 and ":" in rest[:at]:
        url = f"{scheme}{sep}{rest[:at].split(':', 1)[0]}:***{rest[at:]}"
    return re.sub(r"(?i)([?&]password=)[^&#]*", r"\1***", url)


def load(config_file: str | os.PathLike[str] | None = None,
         env: dict[str, str] | None = None) -> Settings:
    """Settings from the config file (ANJU_CONFIG or ./anju.toml) and the environment."""
    env = dict(os.environ if env is None else env)
    data: dict[str, Any] = {}
    path = config_file or env.get("ANJU_CONFIG") or ("anju.toml" if Path("anju.toml").exists() else None)
    if path:
        try:
            data = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise SettingsError(f"config file {path} does not exist (ANJU_CONFIG)") from None
        except tomllib.TOMLDecodeError as e:
            raise SettingsError(f"config file {path} is not valid TOML: {e}") from None
        _settings(data)  # the file's own mistakes are told even where the environment overrides
    data.update({name: env[var] for var, name in _ENV.items() if var in env})
    for table, prefix in _TABLES.items():
        given = {k[len(prefix):].lower(): v for k, v in env.items() if k.startswith(prefix)}
        if given:
            data[table] = {**data[table], **given} if isinstance(data.get(table), dict) else given
    return _validate(_settings(data))


redact = _redact
