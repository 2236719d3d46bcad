"""What the clustered broker tests share: a device as the contract has it (paho, user name
= client id = device id, QoS 1), recording what the broker answered."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


@dataclass
class DeviceProbe:
    """One MQTT 3.1.1 connection that records CONNACK, PUBACK, SUBACK and disconnects."""

    port: int
    device_id: str
    password: str
    client_id: str | None = None
    events: list[tuple[str, object]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id or self.device_id,
                        protocol=mqtt.MQTTv311, reconnect_on_failure=False)
        c.username_pw_set(self.device_id, self.password)
        c.will_set(f"anju/v1/devices/{self.device_id}/status", b'{"status":"offline"}', 1)
        c.on_connect = lambda cl, u, f, rc, p: self._ev("connack", rc.value)
        c.on_disconnect = lambda cl, u, f, rc, p: self._ev("disconnect", rc.value)
        c.on_publish = lambda cl, u, mid, rc, p: self._ev("puback", mid)
        c.on_subscribe = lambda cl, u, mid, rcs, p: self._ev("suback", [r.value for r in rcs])
        self.c = c

    def _ev(self, kind: str, value: object) -> None:
        with self.lock:
            self.events.append((kind, value))

    def kinds(self) -> list[str]:
        with self.lock:
            return [k for k, _ in self.events]

    def wait_for(self, kind: str, timeout: float = 10) -> object | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for k, v in self.events:
                    if k == kind:
                        return v
            time.sleep(0.02)
        return None

    def connect(self) -> int | None:
        self.c.connect("127.0.0.1", self.port, 30)
        self.c.loop_start()
        return self.wait_for("connack")  # type: ignore[return-value]

    def publish(self, topic: str, payload: bytes) -> int:
        return self.c.publish(topic, payload, qos=1).mid

    def close(self) -> None:
        try:
            self.c.disconnect()
        finally:
            self.c.loop_stop()


def puback_from_lone_node(port: int, device_id: str, password: str,
                          seconds: float = 10.0) -> bool:
    """Whether a device gets a PUBACK from this node within `seconds`, connecting again
    when refused (a node that lost its majority may stop listening, or close the
    connection, rather than answer)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        d = DeviceProbe(port, device_id, password)
        try:
            if d.connect() == 0:
                d.publish(f"anju/v1/devices/{device_id}/motion", b'{"ts": 1, "seq": 7, "value": 1}')
                if d.wait_for("puback", max(0.1, deadline - time.monotonic())) is not None:
                    return True
        except OSError:
            time.sleep(0.5)
        finally:
            d.close()
    return False


def connected(ports: list[int], device_id: str, password: str, tries: int = 6,
              will: bool = True) -> DeviceProbe:
    """A probe whose connection was accepted, trying the next node when a CONNECT goes
    unanswered, as a device given the nodes' addresses does. nats-server 2.9 closes a
    connection whose session it could not persist within its 4 s JetStream timeout; on
    this machine it did so, again and again for a minute, for a client id that had just
    been connected to another node (apparently nats-io/nats-server#4734, fixed after 2.9)."""
    for k in range(tries):
        d = DeviceProbe(ports[k % len(ports)], device_id, password)
        if not will:
            d.c.will_clear()
        if d.connect() == 0:
            return d
        d.close()
    raise AssertionError(f"{device_id} could not connect in {tries} tries")
