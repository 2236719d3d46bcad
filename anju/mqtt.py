"""A small asyncio MQTT 3.1.1 client: the packets anju needs and nothing else.

Why not paho-mqtt: the ingest must acknowledge (PUBACK) a message only after
its row is committed, read packets in bulk, and push back on the broker when
its queue is full. paho reads packet by packet on a thread and aiomqtt acks
before user code runs. This client parses whole socket reads at once, hands
PUBLISH packets to a callback in batches, acknowledges only when told to,
and pauses the socket (so TCP pushes back on the broker) when asked.
MQTT 3.1.1 rather than 5: measured cheaper per message, and Mosquitto offers
shared subscriptions ($share/group/filter) to 3.1.1 clients too.

Publishers (simulators, benchmarks) use the same connection with an inflight
window: publish() returns at once; wait_inflight_below() applies back-pressure.
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
from dataclasses import dataclass
from typing import Callable, Iterable

CONNECT, CONNACK, PUBLISH, PUBACK = 0x10, 0x20, 0x30, 0x40
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 0x82, 0x90, 0xC0, 0xD0, 0xE0
PUBREC, PUBREL, PUBCOMP = 0x50, 0x62, 0x70

CONNACK_REASONS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


class MqttError(Exception):
    """Base of this module's errors."""


class ConnectRefused(MqttError):
    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(f"broker refused the connection: {CONNACK_REASONS.get(code, code)}")


class ConnectionLost(MqttError):
    pass


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    packet_id: int  # 0 for QoS 0
    dup: bool
    retain: bool


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(b: bytes) -> bytes:
    return len(b).to_bytes(2, "big") + b


def connect_packet(client_id: str, *, username: str | None, password: str | None,
                   clean_session: bool, keepalive: int, will: Will | None) -> bytes:
    flags = (0x02 if clean_session else 0)
    payload = _field(client_id.encode())
    if will is not None:
        flags |= 0x04 | (will.qos << 3) | (0x20 if will.retain else 0)
        payload += _field(will.topic.encode()) + _field(will.payload)
    if username is not None:
        flags |= 0x80
        payload += _field(username.encode())
        if password is not None:
            flags |= 0x40
            payload += _field(password.encode())
    body = _field(b"MQTT") + bytes([4, flags]) + keepalive.to_bytes(2, "big") + payload
    return bytes([CONNECT]) + _varint(len(body)) + body


def publish_packet(topic: bytes, payload: bytes, qos: int = 0, packet_id: int = 0,
                   retain: bool = False, dup: bool = False) -> bytes:
    body = _field(topic) + (packet_id.to_bytes(2, "big") if qos else b"") + payload
    first = PUBLISH | (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    return bytes([first]) + _varint(len(body)) + body


def puback_packet(packet_id: int) -> bytes:
    return b"\x40\x02" + packet_id.to_bytes(2, "big")


def subscribe_packet(packet_id: int, filters: Iterable[tuple[str, int]]) -> bytes:
    body = packet_id.to_bytes(2, "big") + b"".join(
        _field(f.encode()) + bytes([q]) for f, q in filters)
    return bytes([SUBSCRIBE]) + _varint(len(body)) + body


class Connection(asyncio.Protocol):
    """One MQTT connection. Create it with `connect()`."""

    def __init__(self, on_messages: Callable[[list[Message]], None] | None,
                 keepalive: int) -> None:
        self._on_messages = on_messages
        self._keepalive = keepalive
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None
        self._connack: asyncio.Future[tuple[bool, int]] = asyncio.get_running_loop().create_future()
        self._waiters: dict[int, asyncio.Future[bytes]] = {}
        self._inflight: set[int] = set()
        self._inflight_event = asyncio.Event()
        self._inflight_limit = 0
        self._next_id = 0
        self._ping_task: asyncio.Task[None] | None = None
        self._last_pong = 0.0
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.session_present = False
        self.published = 0
        self.acked = 0

    # -- asyncio.Protocol --------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        err = ConnectionLost(f"connection lost: {exc}" if exc else "connection closed by broker")
        if not self._connack.done():
            self._connack.set_exception(err)
        for fut in self._waiters.values():
            if not fut.done():
                fut.set_exception(err)
        if not self.closed.done():
            if exc is None and self._closing:
                self.closed.set_result(None)
            else:
                self.closed.set_exception(err)
        self._inflight_event.set()
        if self._ping_task:
            self._ping_task.cancel()

    _closing = False

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        pos, end = 0, len(buf)
        batch: list[Message] = []
        while end - pos >= 2:
            first = buf[pos]
            # remaining length: up to four 7-bit groups
            length, mult, i = 0, 1, pos + 1
            while True:
                if i >= end:
                    length = -1
                    break
                b = buf[i]
                length += (b & 0x7F) * mult
                i += 1
                if not b & 0x80:
                    break
                mult <<= 7
                if mult > 0x200000:
                    self._protocol_error("malformed remaining length")
                    return
            if length < 0 or i + length > end:
                break
            start, pos = i, i + length
            kind = first & 0xF0
            if kind == PUBLISH:
                qos = (first >> 1) & 0x03
                tlen = (buf[start] << 8) | buf[start + 1]
                t_end = start + 2 + tlen
                topic = buf[start + 2:t_end].decode("utf-8", "replace")
                if qos:
                    pid = (buf[t_end] << 8) | buf[t_end + 1]
                    t_end += 2
                else:
                    pid = 0
                batch.append(Message(topic, bytes(buf[t_end:pos]), qos, pid,
                                     bool(first & 0x08), bool(first & 0x01)))
            elif kind == PUBACK:
                pid = (buf[start] << 8) | buf[start + 1]
                if pid in self._inflight:
                    self._inflight.discard(pid)
                    self.acked += 1
                    if len(self._inflight) <= self._inflight_limit:
                        self._inflight_event.set()
            elif kind == CONNACK:
                if not self._connack.done():
                    self._connack.set_result((bool(buf[start] & 1), buf[start + 1]))
            elif kind == SUBACK:
                pid = (buf[start] << 8) | buf[start + 1]
                fut = self._waiters.pop(pid, None)
                if fut and not fut.done():
                    fut.set_result(bytes(buf[start + 2:pos]))
            elif kind == PINGRESP:
                self._last_pong = asyncio.get_running_loop().time()
            elif kind == PUBREC:  # we never publish at QoS 2; answer politely
                self._write(bytes([PUBREL, 2]) + bytes(buf[start:start + 2]))
        del buf[:pos]
        if batch and self._on_messages is not None:
            self._on_messages(batch)

    def _protocol_error(self, why: str) -> None:
        if self._transport:
            self._transport.close()
        if not self.closed.done():
            self.closed.set_exception(MqttError(why))

    # -- API ---------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            raise ConnectionLost("not connected")
        self._transport.write(data)

    def _packet_id(self) -> int:
        for _ in range(65535):
            self._next_id = self._next_id % 65535 + 1
            if self._next_id not in self._inflight and self._next_id not in self._waiters:
                return self._next_id
        raise MqttError("no free packet id: 65,535 messages unacknowledged")

    async def subscribe(self, filters: list[tuple[str, int]], timeout: float = 10) -> list[int]:
        pid = self._packet_id()
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiters[pid] = fut
        self._write(subscribe_packet(pid, filters))
        codes = await asyncio.wait_for(fut, timeout)
        granted = list(codes)
        refused = [f for (f, _), c in zip(filters, granted) if c == 0x80]
        if refused:
            raise MqttError(f"broker refused subscription to {', '.join(refused)}")
        return granted

    def publish(self, topic: str | bytes, payload: bytes, qos: int = 0,
                retain: bool = False) -> int:
        """Send a PUBLISH now; returns its packet id (0 for QoS 0)."""
        t = topic.encode() if isinstance(topic, str) else topic
        pid = 0
        if qos:
            pid = self._packet_id()
            self._inflight.add(pid)
        self._write(publish_packet(t, payload, qos, pid, retain))
        self.published += 1
        return pid

    def write_raw(self, data: bytes, qos1_ids: Iterable[int] = ()) -> None:
        """Send pre-encoded packets (benchmarks); qos1_ids are their packet ids."""
        self._inflight.update(qos1_ids)
        self._write(data)

    def reserve_ids(self, n: int) -> list[int]:
        ids = []
        for _ in range(n):
            pid = self._packet_id()
            self._inflight.add(pid)
            ids.append(pid)
        return ids

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    async def wait_inflight_below(self, limit: int) -> None:
        """Wait until at most `limit` QoS 1 publishes are unacknowledged."""
        while len(self._inflight) > limit:
            if self.closed.done():
                self.closed.result()
                raise ConnectionLost("connection closed")
            self._inflight_limit = limit
            self._inflight_event.clear()
            await self._inflight_event.wait()

    def ack(self, packet_ids: Iterable[int]) -> None:
        """PUBACK received QoS 1 messages (call after they are safely stored)."""
        data = b"".join(b"\x40\x02" + pid.to_bytes(2, "big") for pid in packet_ids if pid)
        if data:
            self._write(data)

    def pause_reading(self) -> None:
        if self._transport and not self._transport.is_closing():
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._transport and not self._transport.is_closing():
            self._transport.resume_reading()

    async def _pinger(self) -> None:
        loop = asyncio.get_running_loop()
        interval = max(1.0, self._keepalive / 2)
        self._last_pong = loop.time()
        while True:
            await asyncio.sleep(interval)
            if loop.time() - self._last_pong > self._keepalive * 1.5:
                self._protocol_error("broker did not answer pings")
                return
            try:
                self._write(bytes([PINGREQ, 0]))
            except ConnectionLost:
                return

    async def disconnect(self) -> None:
        self._closing = True
        if self._transport and not self._transport.is_closing():
            self._transport.write(bytes([DISCONNECT, 0]))
            self._transport.close()
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), 5)
        except (MqttError, asyncio.TimeoutError):
            pass

    def abort(self) -> None:
        """Drop the connection without DISCONNECT (the broker sends the will)."""
        self._closing = True
        if self._transport:
            self._transport.abort()


async def connect(host: str, port: int, *, client_id: str, username: str | None = None,
                  password: str | None = None, clean_session: bool = True,
                  keepalive: int = 60, will: Will | None = None,
                  on_messages: Callable[[list[Message]], None] | None = None,
                  tls: bool = False, timeout: float = 10) -> Connection:
    """Open a connection and wait for the broker's CONNACK."""
    loop = asyncio.get_running_loop()
    ctx = _ssl.create_default_context() if tls else None
    transport, conn = await asyncio.wait_for(loop.create_connection(
        lambda: Connection(on_messages, keepalive), host, port, ssl=ctx), timeout)
    sock = transport.get_extra_info("socket")
    if sock is not None:
        import socket
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # closed already: the CONNACK wait below reports it
    transport.write(connect_packet(client_id, username=username, password=password,
                                   clean_session=clean_session, keepalive=keepalive, will=will))
    conn.closed.add_done_callback(lambda f: f.cancelled() or f.exception())
    try:
        present, code = await asyncio.wait_for(conn._connack, timeout)
    except BaseException:
        transport.close()
        raise
    if code != 0:
        transport.close()
        raise ConnectRefused(code)
    conn.session_present = present
    if keepalive:
        conn._ping_task = loop.create_task(conn._pinger())
    return conn
