"""Where the servers are: the embedded stack under state_dir, or the external URLs."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from anju.embedded import Stack
from anju.settings import Settings, SettingsError


@dataclass(frozen=True)
class MqttEndpoint:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool = False

    @classmethod
    def from_url(cls, url: str) -> "MqttEndpoint":
        p = urlsplit(url)
        tls = p.scheme == "mqtts"
        return cls(host=p.hostname or "127.0.0.1", port=p.port or (8883 if tls else 1883),
                   username=unquote(p.username) if p.username else None,
                   password=unquote(p.password) if p.password else None, tls=tls)


@dataclass(frozen=True)
class Endpoints:
    database_url: str
    mqtt: MqttEndpoint           # the ingest service's account, on the services' listener
    stack: Stack | None          # set when the servers are anju's own

    def mqtt_as(self, username: str, password: str) -> MqttEndpoint:
        """A device's account, at the address devices are given.

        The embedded broker has a listener of its own for devices; with an
        external broker only the services' URL is known, and a device whose
        client id is its user name is accepted there too.
        """
        if self.stack is None:
            return MqttEndpoint(self.mqtt.host, self.mqtt.port, username, password, self.mqtt.tls)
        host, port = self.stack.device_address()
        return MqttEndpoint(host, port, username, password, self.mqtt.tls)

    def admin_mqtt(self) -> MqttEndpoint:
        """The admin service account (embedded stack only)."""
        if self.stack is None:
            return self.mqtt
        return MqttEndpoint.from_url(self.stack.mqtt_url("anju-admin"))


def resolve(settings: Settings) -> Endpoints:
    if not settings.embedded:
        assert settings.database_url and settings.mqtt_url
        return Endpoints(settings.database_url, MqttEndpoint.from_url(settings.mqtt_url), None)
    stack = Stack(settings.state_dir)
    if not stack.creds_file.exists():
        raise SettingsError(
            f"no servers configured and no embedded stack in {stack.state_dir}: run `anju up`, "
            "or set ANJU_DATABASE_URL and ANJU_MQTT_URL")
    return Endpoints(stack.database_url(), MqttEndpoint.from_url(stack.mqtt_url()), stack)
