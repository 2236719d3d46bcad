"""One send through apprise to one URL, off the event loop, with its error.

apprise answers True/False and logs why; the log lines of the thread that
sent are collected so an attempt records the reason. Every send carries the
delivery's idempotency key as an `X-Anju-Delivery` header where the channel
has headers (webhooks and e-mail), so a receiver can drop a resend.

A result says whether the message went out, and if not whether the same
channel is worth trying again: a URL apprise cannot use will not work on
the next try either, while a refused connection or a timeout may.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from enum import Enum
from urllib.parse import quote, urlsplit

import apprise

_HEADER_SCHEMES = {"json", "jsons", "form", "forms", "xml", "xmls", "mailto", "mailtos"}
IDEMPOTENCY_HEADER = "X-Anju-Delivery"


class Outcome(Enum):
    DELIVERED = "delivered"
    RETRYABLE = "retryable"      # failed; the same channel may work on another try
    FINAL = "final"              # failed; this channel will not work as it is


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.DELIVERED

    @property
    def retryable(self) -> bool:
        return self.outcome is Outcome.RETRYABLE


DELIVERED = SendResult(Outcome.DELIVERED)


def failed(error: str, *, retryable: bool = True) -> SendResult:
    return SendResult(Outcome.RETRYABLE if retryable else Outcome.FINAL, error)


class _PerThreadLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.buffers: dict[int, list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        buf = self.buffers.get(threading.get_ident())
        if buf is not None:
            buf.append(record.getMessage())


_log = _PerThreadLog()
logging.getLogger("apprise").addHandler(_log)


def with_key(url: str, key: str) -> str:
    """The URL with the idempotency key as a header, where the channel has headers."""
    if urlsplit(url).scheme.lower() not in _HEADER_SCHEMES:
        return url
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}+{IDEMPOTENCY_HEADER}={quote(key, safe='')}"


def send_blocking(url: str, title: str, body: str, key: str | None = None) -> SendResult:
    ident = threading.get_ident()
    _log.buffers[ident] = buf = []
    try:
        plugin = apprise.Apprise.instantiate(with_key(url, key) if key else url)
        if plugin is None:
            return failed("apprise cannot use this URL: " + "; ".join(buf)[:300],
                          retryable=False)
        ok = plugin.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
        if ok:
            return DELIVERED
        return failed(("; ".join(buf) or "apprise reported a failure")[:500])
    except Exception as e:  # a plugin bug must not kill the router: record it
        return failed(f"{type(e).__name__}: {e}"[:500])
    finally:
        _log.buffers.pop(ident, None)


async def send(url: str, title: str, body: str, key: str | None = None,
               timeout: float = 60) -> SendResult:
    """Send in a worker thread; never blocks the event loop."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(send_blocking, url, title, body, key),
                                      timeout)
    except asyncio.TimeoutError:
        return failed(f"no answer within {timeout:.0f} s")
