"""Settings: defaults, then a TOML config file, then ANJU_* environment variables.

A bad setting raises SettingsError naming the key, the value and the fix.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class SettingsError(ValueError):
    """A configuration value is missing or invalid; the message says how to fix it."""


@dataclass(frozen=True, kw_only=True)
class IngestSettings:
    batch_size: int = 2000
    flush_ms: int = 50
    queue_max: int = 20_000
    max_future_s: int = 300
    max_past_s: int = 7 * 86400
    metrics_port: int = 0
    # Empty: one worker on a plain subscription, which the broker restores after its own
    # restart. Mosquitto does not restore shared subscriptions: with a group, what devices
    # publish between a broker restart and the workers' resubscription is lost (measured).
    share_group: str = ""
    client_id: str = ""
    maintenance_s: int = 300  # rollups and retention every this many seconds; 0 = never
    # What one message may hold (a device may send anything; none of it may stop the
    # ingest): JSON nesting, the length of a text field, the payload (under the
    # broker's max_packet_size, so an oversize one is quarantined, not a reset socket).
    max_depth: int = 16
    max_string: int = 256
    max_payload: int = 64 * 1024
    # Quarantine per device and hour: this many rejected messages kept (payloads cut to
    # quarantine_bytes, their length kept), the rest only counted by reason.
    quarantine_per_hour: int = 100
    quarantine_bytes: int = 4096


@dataclass(frozen=True, kw_only=True)
class ConsoleSettings:
    # Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For and
    # X-Forwarded-Proto are believed. From any other client the headers are
    # ignored: believing them would let a client choose the address its sign-in
    # attempts are counted against.
    trusted_proxies: tuple[str, ...] = ()
    secure_cookies: bool = False      # mark cookies Secure though the console speaks plain HTTP
    inbox_url: str | None = None      # a local notification inbox, linked for staff (the demo)


@dataclass(frozen=True, kw_only=True)
class Settings:
    state_dir: Path = Path(".anju")
    database_url: str | None = None
    mqtt_url: str | None = None
    default_tz: str = "Asia/Shanghai"
    retention_days: int = 90
    rollup_retention_days: int = 730
    ingest: IngestSettings = field(default_factory=IngestSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)

    @property
    def embedded(self) -> bool:
        """True when anju runs its own PostgreSQL and Mosquitto under state_dir."""
        return self.database_url is None and self.mqtt_url is None


_ENV = {
    "ANJU_STATE_DIR": "state_dir",
    "ANJU_DATABASE_URL": "database_url",
    "ANJU_MQTT_URL": "mqtt_url",
    "ANJU_DEFAULT_TZ": "default_tz",
    "ANJU_RETENTION_DAYS": "retention_days",
    "ANJU_ROLLUP_RETENTION_DAYS": "rollup_retention_days",
}
_INGEST_ENV_PREFIX = "ANJU_INGEST_"
_CONSOLE_ENV_PREFIX = "ANJU_CONSOLE_"


def _coerce(key: str, value: Any, target: Any) -> Any:
    if isinstance(target, bool):
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("1", "true", "yes", "on"):
            return True
        if str(value).lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{key}={value!r}: expected true or false")
    if isinstance(target, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{key}={value!r}: expected a whole number") from None
    if isinstance(target, Path):
        return Path(str(value))
    if isinstance(target, tuple):  # a TOML list, or comma-separated in the environment
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise SettingsError(f"{key}={value!r}: expected a list of text values")
        return tuple(i.strip() for i in items if i.strip())
    return None if value in (None, "") else str(value)


def _apply(obj: Any, values: dict[str, Any], prefix: str) -> Any:
    known = {f.name: f for f in fields(obj)}
    changes = {}
    for key, value in values.items():
        if key not in known:
            raise SettingsError(
                f"unknown setting {prefix}{key}; known keys: {', '.join(sorted(known))}")
        current = getattr(obj, key)
        if isinstance(current, (IngestSettings, ConsoleSettings)):
            if not isinstance(value, dict):
                raise SettingsError(f"{prefix}{key} must be a table ([{key}])")
            changes[key] = _apply(current, value, f"{key}.")
        else:
            changes[key] = _coerce(prefix + key, value, current if current is not None else "")
    return replace(obj, **changes)


def _validate(s: Settings) -> Settings:
    for key, url, schemes in (("database_url", s.database_url, ("postgresql", "postgres")),
                              ("mqtt_url", s.mqtt_url, ("mqtt", "mqtts"))):
        if url is None:
            continue
        parts = urlsplit(url)
        if parts.scheme not in schemes or not parts.hostname:
            raise SettingsError(
                f"{key}={_redact(url)!r}: expected {schemes[0]}://user:password@host:port/...")
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
    for key in ("retention_days", "rollup_retention_days"):
        if getattr(s, key) < 1:
            raise SettingsError(f"{key}={getattr(s, key)}: expected at least 1 (days)")
    for proxy in s.console.trusted_proxies:
        try:
            ipaddress.ip_network(proxy)
        except ValueError as e:
            raise SettingsError(
                f"console.trusted_proxies={proxy!r} (ANJU_CONSOLE_TRUSTED_PROXIES): {e}; expected "
                "IP addresses or networks such as 10.0.0.5 or 10.0.0.0/24") from None
    i = s.ingest
    for key, low, high in (("batch_size", 1, 100_000), ("flush_ms", 1, 10_000),
                           ("queue_max", 100, 10_000_000), ("metrics_port", 0, 65535),
                           ("maintenance_s", 0, 86400), ("max_depth", 2, 64),
                           ("max_string", 16, 65536), ("max_payload", 256, 120_000),
                           ("quarantine_per_hour", 1, 1_000_000),
                           ("quarantine_bytes", 64, 120_000)):
        value = getattr(i, key)
        if not low <= value <= high:
            raise SettingsError(f"ingest.{key}={value}: expected {low}..{high}")
    return s


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def load(config_file: str | os.PathLike[str] | None = None,
         env: dict[str, str] | None = None) -> Settings:
    """Settings from the config file (ANJU_CONFIG or ./anju.toml) and the environment."""
    env = dict(os.environ if env is None else env)
    s = Settings()
    path = config_file or env.get("ANJU_CONFIG") or ("anju.toml" if Path("anju.toml").exists() else None)
    if path:
        try:
            data = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise SettingsError(f"config file {path} does not exist (ANJU_CONFIG)") from None
        except tomllib.TOMLDecodeError as e:
            raise SettingsError(f"config file {path} is not valid TOML: {e}") from None
        s = _apply(s, data, "")
    top = {name: env[var] for var, name in _ENV.items() if var in env}
    ingest = {k[len(_INGEST_ENV_PREFIX):].lower(): v for k, v in env.items()
              if k.startswith(_INGEST_ENV_PREFIX)}
    if ingest:
        top["ingest"] = ingest
    console = {k[len(_CONSOLE_ENV_PREFIX):].lower(): v for k, v in env.items()
               if k.startswith(_CONSOLE_ENV_PREFIX)}
    if console:
        top["console"] = console
    s = _apply(s, top, "")
    return _validate(s)


redact = _redact
