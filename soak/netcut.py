"""Cutting the network between the homes and the MQTT broker, as a failed link does.

A broker restart closes every socket cleanly: clients see the close at once and reconnect.
A cut link closes nothing. Packets just stop: senders fill their socket buffers and block,
pings go unanswered, new connections hang, and only keepalives notice (the client gives up on
its connection, the broker publishes the device's last will). When the link comes back, a NAT
or firewall that lost its state resets whatever was open through it.

NetCut is a TCP forwarder that does exactly that on demand. The homes connect to it instead of
the broker; cut() stops forwarding and stops reading (so TCP pushes back on the senders) and
leaves new connections accepted but silent; restore() resets every connection that was open
during the cut and forwards new ones normally again.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import threading

log = logging.getLogger("anju.soak.netcut")
CHUNK = 64 * 1024


class _Link:
    """One client connection and, once connected, its upstream connection."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.writers: list[asyncio.StreamWriter] = [client]
        self.gone = asyncio.Event()

    def pause(self) -> None:
        for w in self.writers:
            w.transport.pause_reading()  # type: ignore[attr-defined]

    def reset(self) -> None:
        """Close both sides abruptly: SO_LINGER 0 makes the close send RST."""
        self.gone.set()
        for w in self.writers:
            sock = w.get_extra_info("socket")
            try:
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            w.transport.abort()


class NetCut:
    """A TCP forwarder on 127.0.0.1:<free port> to (host, port), in its own thread with
    its own asyncio loop. cut() and restore() may be called from any thread."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.upstream_port = host, port
        self.port = 0
        self.cuts = 0
        self._cut = self._stopped = False
        self._links: set[_Link] = set()
        self._flowing = asyncio.Event()   # bound to the proxy's loop on first use
        self._flowing.set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="netcut", daemon=True)
        self._server: asyncio.AbstractServer | None = None

    def start(self) -> "NetCut":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, limit=CHUNK)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def is_cut(self) -> bool:
        return self._cut

    @property
    def connections(self) -> int:
        return len(self._links)

    def cut(self) -> None:
        if not self._cut:
            self._cut = True
            self.cuts += 1
            self._loop.call_soon_threadsafe(self._do_cut)

    def restore(self) -> None:
        if self._cut:
            self._cut = False
            self._loop.call_soon_threadsafe(self._do_restore)

    def _do_cut(self) -> None:
        self._flowing.clear()
        for link in self._links:
            link.pause()

    def _do_restore(self) -> None:
        for link in list(self._links):   # everything open now was open during the cut
            link.reset()
        self._flowing.set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(writer)
        self._links.add(link)
        try:
            if self._stopped:   # accepted while stopping
                link.reset()
                return
            if not self._flowing.is_set():
                # Accepted, then silence until the link is back. What arrives is dropped
                # unanswered, so a client that gives up and closes frees its socket here.
                while not link.gone.is_set() and await reader.read(CHUNK):
                    pass
                return
            up_reader, up_writer = await asyncio.open_connection(
                self.host, self.upstream_port, limit=CHUNK)
            link.writers.append(up_writer)
            if link.gone.is_set():   # reset (stop) while connecting
                link.reset()
                return
            if not self._flowing.is_set():
                link.pause()
            await asyncio.gather(self._pump(reader, up_writer, link),
                                 self._pump(up_reader, writer, link))
        except Exception as e:
            log.debug("connection through netcut failed: %r", e)
        finally:
            self._links.discard(link)
            for w in link.writers:
                w.close()   # after reset() this does nothing more

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                    link: _Link) -> None:
        try:
            while True:
                await self._flowing.wait()
                data = await src.read(CHUNK)
                await self._flowing.wait()   # read just before a cut: held, not forwarded
                if link.gone.is_set():
                    return
                if not data:
                    if dst.can_write_eof():
                        dst.write_eof()
                    return
                dst.write(data)
                await dst.drain()
        except Exception as e:
            log.debug("netcut pump ended: %r", e)
            link.reset()

    async def _shutdown(self) -> None:
        # Reset everything until no connection is in flight (asyncio accepts in a task of its
        # own), then close the listener: what the kernel still holds for it is reset by it.
        for _ in range(50):
            for link in list(self._links):
                link.reset()
            self._flowing.set()   # pumps held by a cut wake up, see the reset and end
            others = asyncio.all_tasks() - {asyncio.current_task()}
            if not others:
                break
            await asyncio.wait(others, timeout=0.1)
        if self._server is not None:
            self._server.close()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            except Exception as e:
                log.debug("netcut shutdown: %r", e)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if not self._loop.is_running():
            self._loop.close()
