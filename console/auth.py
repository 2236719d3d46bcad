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
LOGIN_WINDOW_S = 15 * 60             # failures counted over this window
LOGIN_MAX_PER_USER = 5               # failed attempts per user name in the window
LOGIN_MAX_PER_REMOTE = 20            # failed attempts per address in the window

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
        """The named parameters console.sql.SCOPE needs."""
        return {"admin": self.admin, "uid": self.id}


def login_blocked(user_failures: int, remote_failures: int) -> bool:
    return user_failures >= LOGIN_MAX_PER_USER or remote_failures >= LOGIN_MAX_PER_REMOTE
