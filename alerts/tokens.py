"""Signed acknowledgement links: pure code, no database.

A token names the alert, the contact it was sent to, when it expires and a
nonce, signed with HMAC-SHA256 under the router's secret:

    <alert>.<contact>.<expires, base 36>.<nonce>.<signature>

Short enough for an SMS. Verifying checks shape, signature (in constant time)
and expiry; whether the nonce was used already (a replay) is the database's
business (alerts.store), since single use needs memory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

_NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{8,32}$")


class AckTokenError(ValueError):
    """The link is refused. `reason` is one of malformed, forged, expired, replayed."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class AckClaim:
    alert_id: int
    contact_id: int
    expires_at: datetime
    nonce: str


def new_nonce() -> str:
    return secrets.token_urlsafe(9)  # 12 characters, 72 bits


def _sig(secret: bytes, body: str) -> str:
    mac = hmac.new(secret, b"anju-ack-v1|" + body.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def sign_ack_token(secret: bytes, *, alert_id: int, contact_id: int, expires_at: datetime,
                   nonce: str) -> str:
    if not _NONCE_RE.match(nonce):
        raise ValueError(f"nonce {nonce!r}: expected 8-32 URL-safe characters")
    body = f"{alert_id}.{contact_id}.{_b36(int(expires_at.timestamp()))}.{nonce}"
    return f"{body}.{_sig(secret, body)}"


def verify_ack_token(token: str, secret: bytes, now: datetime) -> AckClaim:
    """The claim a genuine, unexpired token makes, else AckTokenError."""
    parts = token.strip().split(".")
    if len(parts) != 5 or not _NONCE_RE.match(parts[3]):
        raise AckTokenError("malformed", "this is not an acknowledgement link")
    alert, contact, exp, nonce, sig = parts
    if not hmac.compare_digest(_sig(secret, ".".join(parts[:4])), sig):
        raise AckTokenError("forged", "the link's signature is not valid")
    try:
        claim = AckClaim(int(alert), int(contact),
                         datetime.fromtimestamp(int(exp, 36), timezone.utc), nonce)
    except (ValueError, OverflowError, OSError):
        raise AckTokenError("malformed", "this is not an acknowledgement link") from None
    if now >= claim.expires_at:
        raise AckTokenError("expired", f"the link expired at {claim.expires_at:%Y-%m-%d %H:%M} UTC")
    return claim


def load_secret(state_dir: Path, configured: str | None = None) -> bytes:
    """The signing secret: configured (ANJU_ROUTER_SECRET), else generated once into state_dir."""
    if configured:
        if len(configured) < 16:
            raise ValueError("ANJU_ROUTER_SECRET: expected at least 16 characters")
        return configured.encode()
    path = state_dir / "router-secret"
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    state_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    try:
        os.link(tmp, path)          # first writer wins; others read its secret
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return bytes.fromhex(path.read_text().strip())
