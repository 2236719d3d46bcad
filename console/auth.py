"""Who is signed in and what they may see: users, grants, passwords, sessions.

Pure values and small helpers; the handlers in console/app.py do the I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("admin", "operator", "property", "family")

SESSION_COOKIE = "anju_session"
LOGIN_CSRF_COOKIE = "anju_login_csrf"
LANG_COOKIE = "lang"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"

SESSION_SECONDS = 12 * 3600          # one long shift

# Sign-in throttling. A hard lock after N failures would let anyone lock anyone
# out; instead each attempt waits out a delay that doubles with the failures
# for that user name *from that address* (counted since its last success), so
# a flood from one address slows that address only. A second, looser count
# over all user names from one address slows an address that tries many users.
LOGIN_FREE_PER_USER = 3              # failures for a user name at an address before delays
LOGIN_USER_WINDOW_S = 24 * 3600      # ... counted over this window (and since a success)
LOGIN_FREE_PER_REMOTE = 30           # failures from one address, all user names
LOGIN_REMOTE_WINDOW_S = 3600         # ... counted over this window
LOGIN_DELAY_MAX_S = 15 * 60          # the longest wait between two attempts

_hasher = PasswordHasher()           # argon2id, argon2-cffi's RFC 9106 low-memory profile
# Verified when the user name is unknown, so the answer takes as long either way.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(encoded: str | None, password: str) -> bool:
    """True if the password matches; always spends the time of one verification."""
    try:
        return _hasher.verify(encoded or _DUMMY_HASH, password) and encoded is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(encoded: str) -> bool:
    return _hasher.check_needs_rehash(encoded)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


@dataclass(frozen=True)
class Grant:
    """One thing a user may see: a community, a community's building, or a home."""

    community_id: int | None = None
    building: str | None = None
    home_id: int | None = None

    def covers(self, community_id: int, building: str, home_id: int) -> bool:
        if self.home_id is not None:
            return self.home_id == home_id
        return self.community_id == community_id and (
            self.building is None or self.building == building)


@dataclass(frozen=True)
class User:
    id: int
    username: str
    name: str
    role: str
    csrf: str = ""
    grants: tuple[Grant, ...] = field(default_factory=tuple)

    @property
    def admin(self) -> bool:
        return self.role == "admin"

    def sees(self, community_id: int, building: str, home_id: int) -> bool:
        return self.admin or any(g.covers(community_id, building, home_id) for g in self.grants)

    def scope_params(self) -> dict[str, object]:
        """The named parameters console.sql.scope.SCOPE needs."""
        return {"admin": self.admin, "uid": self.id}


def login_delay(failures: int, free: int) -> float:
    """Seconds to wait after the last of `failures`: none for the first `free`, then 1, 2, 4..."""
    if failures < free:
        return 0.0
    return float(min(2 ** min(failures - free, 30), LOGIN_DELAY_MAX_S))


def login_wait(user_failures: int, since_user_s: float | None, remote_failures: int,
               since_remote_s: float | None) -> float:
    """Seconds before the next attempt may be tried (0: now), from the two failure counts and
    the time since each count's latest failure."""
    return max(0.0,
               login_delay(user_failures, LOGIN_FREE_PER_USER) - (since_user_s or 0.0),
               login_delay(remote_failures, LOGIN_FREE_PER_REMOTE) - (since_remote_s or 0.0))
