"""Telling systemd a service is up and still working (sd_notify), with no dependency.

A unit with `Type=notify` waits for READY=1 before it counts the service as
started; with `WatchdogSec=` it restarts the service when WATCHDOG=1 stops
arriving. Both are one datagram to the socket named by $NOTIFY_SOCKET (a path,
or an abstract socket when it starts with "@"). Outside systemd the variable is
unset and every call here does nothing.

The contract for the services (deploy/systemd/README.md): READY=1 once the
service is serving (connected, subscribed, rebuilt), and `watchdog()` from the
loop that does the work, after a pass of it completed. A pass that never
completes (a write that hangs, an event loop blocked) therefore stops the
pings, and systemd restarts the process: a timer task of its own would keep
pinging while the work is stuck, which is why there is none here.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Mapping

log = logging.getLogger("anju.sdnotify")

# Pings are sent at most this often when WATCHDOG_USEC is not given (the service may still
# be watched: systemd only sets WATCHDOG_USEC when the unit has WatchdogSec=).
DEFAULT_PING_S = 5.0


@dataclass
class Notifier:
    """One service's messages to systemd; address None: not run by systemd, a no-op."""

    address: str | None
    watchdog_s: float | None = None       # the unit's WatchdogSec, when it has one
    _sock: socket.socket | None = field(default=None, repr=False)
    _last_ping: float = field(default=-1e18, repr=False)
    _failed: bool = field(default=False, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Notifier":
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET") or None
        watchdog_s = None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        # WATCHDOG_PID names the process systemd watches: a child that inherited the
        # environment (a spawned publisher, a subprocess) must not ping for its parent.
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            watchdog_s = int(usec) / 1e6
        return cls(address, watchdog_s)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def ping_every_s(self) -> float:
        """How often a ping is actually sent: a quarter of the watchdog time (systemd's
        advice is half; a quarter leaves room for one slow pass of the loop)."""
        return self.watchdog_s / 4 if self.watchdog_s else DEFAULT_PING_S

    def send(self, message: str) -> bool:
        """Send one message (e.g. "READY=1\\nSTATUS=..."); False when not sent."""
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX,
                                           socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)   # never stalls the event loop it is called from
            self._sock.sendto(message.encode(), target)
            self._failed = False
            return True
        except OSError as e:
            # systemd gone or the socket full: the service goes on; said once per outage
            if not self._failed:
                log.warning("could not notify systemd at %s: %s", self.address, e)
            self._failed = True
            return False

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def watchdog(self) -> bool:
        """WATCHDOG=1, at most every ping_every_s: call it after each completed pass of
        the service's work loop, however often that is."""
        if self.address is None:
            return False
        now = time.monotonic()
        if now - self._last_ping < self.ping_every_s:
            return False
        self._last_ping = now
        return self.send("WATCHDOG=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


_current: Notifier | None = None
_current_env: tuple[str | None, str | None, str | None] | None = None


def notifier() -> Notifier:
    """The process's notifier, made again whenever the environment's systemd variables
    change (tests set them per test; a service reads them once)."""
    global _current, _current_env
    key = (os.environ.get("NOTIFY_SOCKET"), os.environ.get("WATCHDOG_USEC"),
           os.environ.get("WATCHDOG_PID"))
    if _current is None or key != _current_env:
        if _current is not None:
            _current.close()
        _current, _current_env = Notifier.from_env(), key
    return _current


def ready(status: str | None = None) -> bool:
    """READY=1: the service is serving."""
    return notifier().ready(status)


def watchdog() -> bool:
    """WATCHDOG=1 (rate-limited): a pass of the service's work loop completed."""
    return notifier().watchdog()


def stopping() -> bool:
    """STOPPING=1: a clean stop has begun (systemd then waits, not restarts)."""
    return notifier().stopping()


def status(text: str) -> bool:
    return notifier().status(text)
