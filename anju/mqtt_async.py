"""paho-mqtt clients driven by the running asyncio loop, as a device would run them.

One event loop drives any number of clients without a thread each: paho's
socket callbacks register its socket with the loop (`loop_read` when it is
readable, `loop_write` while paho has bytes to send) and one task calls
`loop_misc` every second for keepalives, as paho's own asyncio example does.

What a well-behaved device does, and what the device contract asks of one:
QoS 1 with a persistent session; a last will; when the connection drops,
reconnect with growing, jittered back-off; what was published while
disconnected waits in paho's queue and what was in flight is sent again with
DUP set once the connection is back (paho does both), so nothing is lost.
"""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
import time
import weakref
from dataclasses import dataclass
from typing import Callable, Iterable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion


class MqttError(Exception):
    pass


class ConnectRefused(MqttError):
    """The broker refused the connection (bad credentials, client id not allowed, ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"connection refused: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


@dataclass(frozen=True, slots=True)
class Message:
    """A message received by a subscriber; acknowledge QoS 1 ones with Client.ack(packet_id)."""
    topic: str
    payload: bytes
    qos: int
    packet_id: int
    dup: bool = False
    retain: bool = False


READS_PER_WAKE = 256

# Every client on a loop gets its loop_misc from one task per loop.
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, set[Client]]" = \
    weakref.WeakKeyDictionary()


async def _misc(loop: asyncio.AbstractEventLoop) -> None:
    while True:
        await asyncio.sleep(1.0)
        clients = _clients.get(loop)
        if not clients:
            _clients.pop(loop, None)
            return
        for c in list(clients):
            c._tick()


class Client:
    """A paho-mqtt client on the running loop that reconnects by itself.

    `publish` never blocks and never fails for want of a connection: QoS 1
    messages wait until they are acknowledged, across reconnects. `inflight`
    counts those not yet acknowledged; `wait_inflight_below` is the
    publisher's back-pressure.
    """

    def __init__(self, host: str, port: int, *, client_id: str, username: str | None = None,
                 password: str | None = None, keepalive: int = 60, will: Will | None = None,
                 clean_session: bool = False, tls: bool | ssl.SSLContext = False,
                 max_inflight: int = 100, backoff: tuple[float, float] = (0.5, 30.0),
                 on_messages: Callable[[list[Message]], None] | None = None,
                 manual_ack: bool = False, reconnect: bool = True) -> None:
        self.host, self.port, self.client_id = host, port, client_id
        self.keepalive = keepalive
        self.backoff = backoff
        self.connects = 0                # successful connections (1 + reconnects)
        self.refused: str | None = None  # the broker's last refusal, if any
        self._acked = 0
        self._sent = 0
        self._closing = False
        self._loop = asyncio.get_running_loop()
        self._connected = asyncio.Event()
        self._drained = asyncio.Event()
        self._first: asyncio.Future[None] = self._loop.create_future()
        self._retry: asyncio.TimerHandle | None = None
        self._delay = backoff[0]
        self._hold_until = 0.0
        # A subscriber: messages are handed over in the lists one socket read brought;
        # with manual_ack nothing is acknowledged until the caller says so (ack), and the
        # broker sends no more than its in-flight window beyond what is acknowledged.
        self._on_messages = on_messages
        self._inbox: list[Message] = []
        self._reconnect_on = reconnect
        self.session_present = False
        self.closed: asyncio.Future[None] = self._loop.create_future()
        self._subacks: dict[int, asyncio.Future[list[int]]] = {}
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                        clean_session=clean_session, protocol=paho.MQTTv311,
                        manual_ack=manual_ack)
        if username is not None:
            c.username_pw_set(username, password)
        if will is not None:
            c.will_set(will.topic, will.payload, will.qos, will.retain)
        if tls:
            c.tls_set_context(tls if isinstance(tls, ssl.SSLContext) else ssl.create_default_context())
        c.max_inflight_messages_set(max_inflight)
        c.max_queued_messages_set(0)   # unbounded: the caller's back-pressure bounds it
        c.on_socket_open = self._on_socket_open
        c.on_socket_close = self._on_socket_close
        c.on_socket_register_write = self._on_register_write
        c.on_socket_unregister_write = self._on_unregister_write
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        if on_messages is not None:
            c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        self._c = c

    # -- paho's callbacks (all on the loop's thread) --------------------------------

    def _on_socket_open(self, client: paho.Client, userdata: object, sock: socket.socket) -> None:
        self._loop.add_reader(sock, self._read)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 18)

    def _on_socket_close(self, client: paho.Client, userdata: object, sock: socket.socket) -> None:
        self._loop.remove_reader(sock)
        self._loop.remove_writer(sock)

    def _on_register_write(self, client: paho.Client, userdata: object,
                           sock: socket.socket) -> None:
        self._loop.add_writer(sock, self._write)

    def _on_unregister_write(self, client: paho.Client, userdata: object,
                             sock: socket.socket) -> None:
        self._loop.remove_writer(sock)

    def _read(self) -> None:
        # paho reads one packet per call; a few more per wake-up save the loop a round trip
        # for each message of a burst (a call on an empty socket costs one failed recv).
        c = self._c
        for _ in range(READS_PER_WAKE if self._on_messages is not None else 1):
            if c.loop_read() != paho.MQTT_ERR_SUCCESS or c.socket() is None:
                break
        if self._inbox:
            batch, self._inbox = self._inbox, []
            self._on_messages(batch)  # type: ignore[misc]

    def _on_message(self, client: paho.Client, userdata: object, m: paho.MQTTMessage) -> None:
        # Mosquitto refuses a topic that is not UTF-8; were one to arrive, its bytes stay
        # visible (escaped), it matches no device, and it is quarantined as such.
        self._inbox.append(Message(m._topic.decode("utf-8", "backslashreplace"), m.payload,
                                   m.qos, m.mid, bool(m.dup), bool(m.retain)))

    def _on_subscribe(self, client: paho.Client, userdata: object, mid: int,
                      reasons: list[paho.ReasonCode], properties: object) -> None:
        fut = self._subacks.pop(mid, None)
        if fut is not None and not fut.done():
            fut.set_result([r.value for r in reasons])

    def _write(self) -> None:
        self._c.loop_write()

    def _on_connect(self, client: paho.Client, userdata: object, flags: object,
                    reason: paho.ReasonCode, properties: object) -> None:
        if reason.is_failure:
            self.refused = str(reason)
            if not self._first.done():
                self._first.set_exception(ConnectRefused(str(reason)))
            return
        self.refused = None
        self.session_present = bool(getattr(flags, "session_present", False))
        self.connects += 1
        self._delay = self.backoff[0]
        self._connected.set()
        if not self._first.done():
            self._first.set_result(None)

    def _on_disconnect(self, client: paho.Client, userdata: object, flags: object,
                       reason: paho.ReasonCode, properties: object) -> None:
        self._connected.clear()
        for fut in self._subacks.values():
            if not fut.done():
                fut.set_exception(MqttError("connection lost"))
        self._subacks.clear()
        if not self._reconnect_on:
            if not self.closed.done():
                if self._closing:
                    self.closed.set_result(None)
                else:
                    self.closed.set_exception(MqttError(f"connection lost: {reason}"))
                    self.closed.exception()   # retrieved: no "never retrieved" warning
            return
        if not self._closing:
            self._schedule_reconnect()

    def _on_publish(self, client: paho.Client, userdata: object, mid: int,
                    reason: paho.ReasonCode, properties: object) -> None:
        self._acked += 1
        if self._acked >= self._sent:
            self._drained.set()

    # -- connection ------------------------------------------------------------------

    def _schedule_reconnect(self) -> None:
        if self._retry is not None or self._closing or not self._reconnect_on:
            return
        delay = max(self._delay * random.uniform(0.5, 1.5), self._hold_until - time.monotonic())
        self._delay = min(self.backoff[1], self._delay * 2)
        self._retry = self._loop.call_later(delay, self._reconnect)

    def _reconnect(self) -> None:
        self._retry = None
        if self._closing:
            return
        try:
            self._c.reconnect()
        except OSError:
            self._schedule_reconnect()

    def _tick(self) -> None:
        if self._c.socket() is not None:
            rc = self._c.loop_misc()
            if rc != paho.MQTT_ERR_SUCCESS and not self._closing:
                self._schedule_reconnect()

    async def start(self, timeout: float = 15.0) -> "Client":
        """Connect for the first time; raises ConnectRefused or MqttError if that fails."""
        clients = _clients.get(self._loop)
        if clients is None:
            clients = _clients[self._loop] = set()
            self._loop.create_task(_misc(self._loop))
        clients.add(self)
        try:
            self._c.connect(self.host, self.port, self.keepalive)
        except OSError as e:
            clients.discard(self)
            raise MqttError(f"cannot reach {self.host}:{self.port}: {e}") from e
        try:
            await asyncio.wait_for(asyncio.shield(self._first), timeout)
        except asyncio.TimeoutError:
            await self.close()
            raise MqttError(f"no answer from {self.host}:{self.port} in {timeout:g} s") from None
        except ConnectRefused:
            await self.close()
            raise
        return self

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # -- subscribing ----------------------------------------------------------------

    async def subscribe(self, topics: list[tuple[str, int]], timeout: float = 15.0) -> list[int]:
        """Subscribe and wait for the SUBACK; raises MqttError if the broker refuses one."""
        rc, mid = self._c.subscribe(topics)
        if rc != paho.MQTT_ERR_SUCCESS or mid is None:
            raise MqttError(f"subscribe: {paho.error_string(rc)}")
        fut = self._subacks[mid] = self._loop.create_future()
        try:
            granted = await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            self._subacks.pop(mid, None)
            raise MqttError(f"no SUBACK in {timeout:g} s") from None
        refused = [t for (t, _), g in zip(topics, granted) if g >= 0x80]
        if refused:
            raise MqttError(f"subscription refused: {', '.join(refused)}")
        return granted

    def ack(self, packet_ids: Iterable[int]) -> None:
        """Acknowledge received QoS 1 messages (manual_ack); those of an earlier connection
        must not be given: the broker sends them again with new ids."""
        c = self._c
        for pid in packet_ids:
            c.ack(pid, 1)

    # -- publishing ------------------------------------------------------------------

    def publish(self, topic: str | bytes, payload: bytes, qos: int = 1,
                retain: bool = False) -> None:
        if isinstance(topic, bytes):
            topic = topic.decode()
        info = self._c.publish(topic, payload, qos, retain)
        if qos and info.rc in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
            # NO_CONN: queued in paho, sent when the connection is back
            self._sent += 1
            self._drained.clear()
        elif info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
            raise MqttError(f"publish to {topic}: {paho.error_string(info.rc)}")

    @property
    def inflight(self) -> int:
        """QoS 1 messages published and not yet acknowledged by the broker."""
        return self._sent - self._acked

    async def wait_inflight_below(self, limit: int, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.inflight > limit:
            self._drained.clear()
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise MqttError(f"{self.inflight} messages still unacknowledged")
            try:
                await asyncio.wait_for(self._drained.wait(), min(0.2, left or 0.2))
            except asyncio.TimeoutError:
                pass

    async def close(self) -> None:
        """Disconnect cleanly (no last will) and stop reconnecting."""
        self._closing = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._c.socket() is not None:
            self._c.disconnect()
            # let paho write the DISCONNECT before the socket goes
            for _ in range(20):
                if self._c.socket() is None:
                    break
                await asyncio.sleep(0.01)
                self._c.loop_write()
            self._c.loop_read()  # processes the close if the broker has seen it
        clients = _clients.get(self._loop)
        if clients is not None:
            clients.discard(self)
        if not self.closed.done():
            self.closed.set_result(None)

    async def disconnect(self) -> None:
        await self.close()

    def abort(self, offline_for: float = 0.0) -> None:
        """Drop the connection without DISCONNECT, as a device losing power does
        (the broker publishes its last will); it reconnects after back-off, and
        not before `offline_for` seconds. What is published meanwhile waits."""
        self._hold_until = time.monotonic() + offline_for
        sock = self._c.socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


async def connect(host: str, port: int, *, client_id: str, **kw: object) -> Client:
    """A connected Client (see Client for the keywords)."""
    return await Client(host, port, client_id=client_id, **kw).start()  # type: ignore[arg-type]
