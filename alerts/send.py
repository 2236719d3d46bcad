"""One send through apprise to one URL, off the event loop, with its error.

apprise answers True/False and logs why; the log lines of the thread that
sent are collected so an attempt records the reason. Every send carries the
delivery's idempotency key as an `X-Anju-Delivery` header where the channel
has headers (webhooks and e-mail), so a receiver can drop a resend.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import apprise

_HEADER_SCHEMES = {"json", "jsons", "form", "forms", "xml", "xmls", "mailto", "mailtos"}
IDEMPOTENCY_HEADER = "X-Anju-Delivery"


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str | None = None


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
            return SendResult(False, "apprise cannot use this URL: " + "; ".join(buf)[:300])
        ok = plugin.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
        if ok:
            return SendResult(True)
        return SendResult(False, ("; ".join(buf) or "apprise reported a failure")[:500])
    except Exception as e:  # a plugin bug must not kill the router: record it
        return SendResult(False, f"{type(e).__name__}: {e}"[:500])
    finally:
        _log.buffers.pop(ident, None)


async def send(url: str, title: str, body: str, key: str | None = None,
               timeout: float = 60) -> SendResult:
    """Send in a worker thread; never blocks the event loop."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(send_blocking, url, title, body, key),
                                      timeout)
    except asyncio.TimeoutError:
        return SendResult(False, f"no answer within {timeout:.0f} s")
