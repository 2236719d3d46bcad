"""Provisioning: communities, homes and devices, and their broker credentials.

Functions take an open psycopg connection and run in the caller's transaction.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg

from anju import broker
from anju.contract import DEVICE_KINDS, DEVICE_UID_RE, ROOMS


class ProvisioningError(ValueError):
    """Refused provisioning input; the message names the field and what is allowed."""


@dataclass(frozen=True)
class NewDevice:
    id: int
    uid: str
    home_code: str
    kind: str
    room: str
    password: str | None  # shown once; None for a device behind a gateway


def _check_tz(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ProvisioningError(f"tz={tz!r}: expected an IANA time zone such as Asia/Shanghai") from None
    return tz


def ensure_community(conn: psycopg.Connection, code: str, name: str | None = None,
                     district: str = "") -> int:
    if not code.strip():
        raise ProvisioningError("community: expected a non-empty code")
    row = conn.execute(
        "INSERT INTO communities (code, name, district) VALUES (%s, %s, %s) "
        "ON CONFLICT (code) DO UPDATE SET name = communities.name RETURNING id",
        (code, name or code, district)).fetchone()
    assert row
    return int(row[0])


PHONE_RE = re.compile(r"\+?[0-9][0-9 ()\-]{2,24}")


def check_phone(text: str | None) -> str | None:
    """A number a person on duty dials (shown as a tel: link), or None when not given:
    digits with an optional leading +, spaces, dashes or brackets between, 3 to 20 digits."""
    if text is None or not text.strip():
        return None
    t = text.strip()
    digits = sum(c.isdigit() for c in t)
    if not PHONE_RE.fullmatch(t) or not 3 <= digits <= 20:
        raise ProvisioningError(
            f"phone {t!r}: expected a number to dial, e.g. 13800138000, 023-6388-1234 or "
            "+86 23 6388 1234")
    return t


def add_home(conn: psycopg.Connection, *, code: str, community: str, resident: str,
             address: str = "", building: str = "", tz: str = "Asia/Shanghai",
             phone: str | None = None) -> int:
    """Register a home; `phone` is the resident's own number (optional)."""
    if not code.strip():
        raise ProvisioningError("home code: expected a non-empty code")
    if not resident.strip():
        raise ProvisioningError("resident: expected the resident's name")
    _check_tz(tz)
    phone = check_phone(phone)
    community_id = ensure_community(conn, community)
    try:
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO homes (code, community_id, resident_name, address, building, tz,"
                " phone) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (code, community_id, resident, address, building, tz, phone)).fetchone()
    except psycopg.errors.UniqueViolation:
        raise ProvisioningError(f"home {code!r} already exists") from None
    assert row
    return int(row[0])


HOME_CSV_COLUMNS = ("code", "community", "resident", "address", "building", "tz", "phone")


def set_home_phone(conn: psycopg.Connection, code: str, phone: str | None) -> None:
    """The resident's own number (None: no number on record)."""
    phone = check_phone(phone)
    cur = conn.execute("UPDATE homes SET phone = %s WHERE code = %s", (phone, code))
    if cur.rowcount == 0:
        raise ProvisioningError(f"home {code!r} does not exist (anju home list)")


def import_homes(conn: psycopg.Connection, path: Path, default_tz: str = "Asia/Shanghai") -> int:
    """Add every home in a CSV file (header: code,community,resident[,address,building,tz,phone]).

    All or nothing: a bad line names the file and line and nothing is added.
    """
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    missing = {"code", "community", "resident"} - set(reader.fieldnames or ())
    if missing:
        raise ProvisioningError(
            f"{path}: header lacks {', '.join(sorted(missing))}; expected "
            f"{','.join(HOME_CSV_COLUMNS)}")
    n = 0
    with conn.transaction():
        for row in reader:
            line = reader.line_num
            try:
                add_home(conn, code=(row.get("code") or "").strip(),
                         community=(row.get("community") or "").strip(),
                         resident=(row.get("resident") or "").strip(),
                         address=(row.get("address") or "").strip(),
                         building=(row.get("building") or "").strip(),
                         tz=(row.get("tz") or "").strip() or default_tz,
                         phone=row.get("phone"))
            except ProvisioningError as e:
                raise ProvisioningError(f"{path}:{line}: {e}") from None
            n += 1
    return n


def add_device(conn: psycopg.Connection, *, home: str, kind: str, room: str = "other",
               uid: str | None = None, vendor: str = "", model: str = "",
               heartbeat_s: int = 900, gateway: str | None = None,
               external_name: str | None = None) -> NewDevice:
    """Register a device and create its broker credentials (returned once)."""
    if kind not in DEVICE_KINDS:
        raise ProvisioningError(f"kind={kind!r}: expected one of {', '.join(DEVICE_KINDS)}")
    if room not in ROOMS:
        raise ProvisioningError(f"room={room!r}: expected one of {', '.join(ROOMS)}")
    if not 10 <= heartbeat_s <= 86400:
        raise ProvisioningError(f"heartbeat_s={heartbeat_s}: expected 10..86400 seconds")
    row = conn.execute("SELECT id FROM homes WHERE code = %s", (home,)).fetchone()
    if not row:
        raise ProvisioningError(f"home {home!r} does not exist (add it with `anju home add`)")
    home_id = row[0]
    gateway_id = None
    if gateway is not None:
        g = conn.execute("SELECT id, home_id FROM devices WHERE uid = %s AND kind = 'gateway'",
                         (gateway,)).fetchone()
        if not g:
            raise ProvisioningError(f"gateway {gateway!r} is not a registered gateway device")
        if g[1] != home_id:
            raise ProvisioningError(f"gateway {gateway!r} belongs to another home")
        if not external_name:
            raise ProvisioningError("external_name: a device behind a gateway needs the name "
                                    "the gateway gives it (e.g. its zigbee2mqtt friendly name)")
        gateway_id = g[0]
        uid = uid or f"{gateway}.{external_name}"
    if uid is None:
        n = conn.execute("SELECT count(*) FROM devices WHERE home_id = %s", (home_id,)).fetchone()
        uid = f"{home}-{kind}-{room}-{(n[0] if n else 0) + 1}".replace("_", "-")
    if not DEVICE_UID_RE.match(uid):
        raise ProvisioningError(
            f"uid={uid!r}: expected 1-64 characters from A-Z a-z 0-9 _ . - starting with a "
            "letter or digit")
    if uid.startswith(broker.RESERVED_PREFIX):
        raise ProvisioningError(f"uid={uid!r}: the prefix {broker.RESERVED_PREFIX!r} is reserved")
    try:
        with conn.transaction():
            dev = conn.execute(
                "INSERT INTO devices (uid, home_id, kind, room, vendor, model, heartbeat_s,"
                " gateway_id, external_name) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id",
                (uid, home_id, kind, room, vendor, model, heartbeat_s, gateway_id,
                 external_name)).fetchone()
            assert dev
            password = None
            if gateway_id is None:
                password = broker.new_password()
                conn.execute(
                    "INSERT INTO broker_users (username, password_hash, rabbit_hash, role,"
                    " device_id) VALUES (%s, %s, %s, %s, %s)",
                    (uid, broker.hash_password(password), broker.rabbit_hash(password),
                     "gateway" if kind == "gateway" else "device", dev[0]))
    except psycopg.errors.UniqueViolation:
        raise ProvisioningError(f"device {uid!r} already exists") from None
    return NewDevice(id=dev[0], uid=uid, home_code=home, kind=kind, room=room, password=password)


def broker_user_hashes(conn: psycopg.Connection) -> dict[str, str]:
    """Hashed broker credentials of every active device and gateway."""
    rows = conn.execute(
        "SELECT b.username, b.password_hash FROM broker_users b"
        " LEFT JOIN devices d ON d.id = b.device_id WHERE d.active IS NOT FALSE").fetchall()
    return {u: h for u, h in rows}


def rabbit_users(conn: psycopg.Connection) -> list[tuple[str, str | None, str]]:
    """(user name, RabbitMQ hash or None, role) of every active device and gateway."""
    rows = conn.execute(
        "SELECT b.username, b.rabbit_hash, b.role FROM broker_users b"
        " LEFT JOIN devices d ON d.id = b.device_id"
        " WHERE d.active IS NOT FALSE AND b.role IN ('device', 'gateway')"
        " ORDER BY b.username").fetchall()
    return [(u, h, r) for u, h, r in rows]
