"""The soak's network cut: a TCP forwarder that goes silent, then resets what was open.

Real sockets throughout: a small echo server behind NetCut, and the embedded Mosquitto
behind it for a device that must ride out the cut with its keepalive and persistent session.
"""

from __future__ import annotations

import asyncio
import json
import socket
import socketserver
import threading
import time
from typing import Iterator

import pytest

from anju import mqtt_async
from anju.contract import device_topic
from anju.mqtt_async import Client
from soak.netcut import NetCut
from tests.support import as_admin, reading, wait_until


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data)
        except OSError:
            pass


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def echo() -> Iterator[int]:
    server = _EchoServer(("127.0.0.1", 0), _Echo)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(echo: int) -> Iterator[NetCut]:
    nc = NetCut("127.0.0.1", echo).start()
    yield nc
    nc.stop()


def _open(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=2)


def _echoes(s: socket.socket, data: bytes, timeout: float = 2) -> bool:
    s.settimeout(timeout)
    s.sendall(data)
    got = b""
    try:
        while len(got) < len(data):
            chunk = s.recv(65536)
            if not chunk:
                return False
            got += chunk
    except socket.timeout:
        return False
    return got == data


def _silent(s: socket.socket, data: bytes, wait: float = 1.0) -> bool:
    """True if nothing at all comes back within `wait` seconds."""
    s.settimeout(wait)
    s.sendall(data)
    try:
        s.recv(65536)
    except socket.timeout:
        return True
    return False


def _closed(s: socket.socket, within: float = 2.0) -> bool:
    s.settimeout(within)
    try:
        while s.recv(65536):
            pass      # anything still buffered, then the close
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_forwards_both_ways(proxy: NetCut) -> None:
    assert proxy.port and not proxy.is_cut and proxy.cuts == 0
    with _open(proxy.port) as s:
        assert _echoes(s, b"hello")
        big = bytes(range(256)) * 1024     # 256 KiB: several reads each way
        assert _echoes(s, big)
        assert proxy.connections == 1
    with _open(proxy.port) as a, _open(proxy.port) as b:
        assert _echoes(a, b"a") and _echoes(b, b"b")


def test_cut_holds_everything_and_restore_resets(proxy: NetCut) -> None:
    old = _open(proxy.port)
    assert _echoes(old, b"before")

    proxy.cut()
    assert proxy.is_cut and proxy.cuts == 1
    assert _silent(old, b"during")
    new = _open(proxy.port)                # accepted, but nothing behind it
    assert _silent(new, b"anyone there?")
    assert proxy.connections == 2

    proxy.restore()
    assert not proxy.is_cut
    assert _closed(old) and _closed(new)
    old.close()
    new.close()
    with _open(proxy.port) as s:
        assert _echoes(s, b"after")
    time.sleep(0.2)
    assert proxy.connections == 0

    proxy.cut()                            # a second cut works the same way
    assert proxy.cuts == 2
    with _open(proxy.port) as s:
        assert _silent(s, b"x", 0.5)
        proxy.restore()
        assert _closed(s)


def test_cut_pushes_back_on_the_sender(proxy: NetCut) -> None:
    """While cut nothing is read, so the kernel buffers fill and a sender blocks."""
    with _open(proxy.port) as s:
        assert _echoes(s, b"x")
        proxy.cut()
        time.sleep(0.1)
        s.settimeout(1)
        sent = 0
        with pytest.raises(socket.timeout):
            while sent < 256 << 20:
                sent += s.send(b"\0" * 65536)
        assert sent < 256 << 20
        proxy.restore()
        assert _closed(s)


def test_stop_is_idempotent_and_frees_the_port(echo: int) -> None:
    nc = NetCut("127.0.0.1", echo).start()
    port = nc.port
    with _open(port) as s:
        assert _echoes(s, b"x")
        fresh = [_open(port) for _ in range(5)]   # still being accepted as it stops
        nc.stop()
        assert _closed(s)
        assert all(_closed(f) for f in fresh)
        for f in fresh:
            f.close()
    nc.stop()
    with pytest.raises(ConnectionRefusedError):
        _open(port).close()
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
    NetCut("127.0.0.1", echo).stop()       # stopping one never started is harmless


async def test_device_rides_out_a_cut_to_the_broker(stack, home_factory) -> None:
    """QoS 1 published during a cut reaches the broker once the link is back."""
    _, devs = home_factory([("motion", "hallway")])
    dev = devs["motion-hallway"]
    topic = device_topic(dev.uid, "motion")

    received: list[mqtt_async.Message] = []
    sub: mqtt_async.Client | None = None

    def got(batch: list[mqtt_async.Message]) -> None:
        received.extend(batch)
        if sub is not None:
            sub.ack(m.packet_id for m in batch)

    sub = await as_admin(stack, on_messages=got)
    await sub.subscribe([(topic, 1)])

    host, port = stack.device_address()
    nc = NetCut(host, port).start()
    client = await Client("127.0.0.1", nc.port, client_id=dev.uid, username=dev.uid,
                          password=dev.password, keepalive=2, backoff=(0.2, 1.0)).start()
    try:
        for seq in range(5):
            client.publish(topic, reading(seq), qos=1)
        await client.wait_inflight_below(0, timeout=5)
        assert client.connects == 1

        nc.cut()
        for seq in range(5, 10):
            client.publish(topic, reading(seq), qos=1)
        await asyncio.sleep(3)
        assert client.inflight == 5            # nothing got through
        seqs = lambda: {json.loads(m.payload)["seq"] for m in received}  # noqa: E731
        assert seqs() == set(range(5))

        nc.restore()
        await wait_until(lambda: client.connects >= 2, timeout=8)
        await client.wait_inflight_below(0, timeout=5)
        await wait_until(lambda: seqs() == set(range(10)), timeout=5)
        assert nc.cuts == 1 and nc.connections == 1
    finally:
        await client.close()
        await sub.disconnect()
        nc.stop()
