"""Reports: response times against the social-alarm standard, alerts by kind, device health,
and the audit log; in the user's scope, as pages, JSON and CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from console.sql import reports as reports_sql
from console.auth import User

# The social-alarm standard (EN 50134-7 / TEC Quality): 80 % of alarm calls
# answered within 60 s, 98.5 % within 180 s.
TARGET_60S = 0.80
TARGET_180S = 0.985
LOW_BATTERY_PCT = 20
REPORT_ROLES = ("admin", "operator", "property")
AUDIT_ROLES = ("admin", "operator")
SECTIONS = ("response", "kinds", "devices")
WEEK_TZ = ZoneInfo("Asia/Shanghai")


def period(weeks: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """From Monday 00:00 (China time) `weeks - 1` weeks ago until now."""
    now = now or datetime.now(timezone.utc)
    local = now.astimezone(WEEK_TZ)
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0,
                                                              microsecond=0)
    return monday - timedelta(weeks=weeks - 1), now


def _share(n: int, total: int) -> float | None:
    return round(n / total, 4) if total else None


async def build(conn: psycopg.AsyncConnection, user: User, *, weeks: int,
                community: str | None) -> dict[str, Any]:
    since, until = period(weeks)
    p = {**user.scope_params(), "since": since, "until": until, "community": community,
         "low_battery": LOW_BATTERY_PCT, "limit": 500}
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(reports_sql.REPORT_RESPONSE, p)
    response = await cur.fetchall()
    for r in response:
        r["share_60s"] = _share(r["within_60s"], r["critical"])
        r["share_180s"] = _share(r["within_180s"], r["critical"])
        r["meets_standard"] = (r["share_60s"] or 0) >= TARGET_60S and (
            r["share_180s"] or 0) >= TARGET_180S
    await cur.execute(reports_sql.REPORT_KINDS, p)
    kinds = await cur.fetchall()
    await cur.execute(reports_sql.REPORT_DEVICES, p)
    devices = await cur.fetchall()
    await cur.execute(reports_sql.REPORT_DEVICE_PROBLEMS, p)
    problems = await cur.fetchall()
    return {"since": since, "until": until, "weeks": weeks, "community": community,
            "targets": {"share_60s": TARGET_60S, "share_180s": TARGET_180S,
                        "low_battery_pct": LOW_BATTERY_PCT},
            "response": response, "kinds": kinds, "devices": devices,
            "device_problems": problems}


CSV_COLUMNS = {
    "response": ("week", "community_code", "community_name", "critical", "within_60s",
                 "share_60s", "within_180s", "share_180s", "unanswered", "median_s", "p95_s",
                 "meets_standard"),
    "kinds": ("kind", "severity", "alerts", "unresolved", "false_alarms"),
    "devices": ("community_code", "community_name", "devices", "offline", "low_battery"),
}


def to_csv(section: str, rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    cols = CSV_COLUMNS[section]
    w.writerow(cols)
    for r in rows:
        w.writerow(["" if r.get(c) is None else _cell(r[c]) for c in cols])
    return "\ufeff" + out.getvalue()        # a BOM: spreadsheet programs then read UTF-8


def _cell(v: Any) -> str:
    s = str(v)
    # No formulas from data: a leading =, +, -, @ is quoted as text.
    return "'" + s if s[:1] in ("=", "+", "-", "@") and not _number(s) else s


def _number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


# -- the audit log ------------------------------------------------------------------


async def audit_log(conn: psycopg.AsyncConnection, user: User, f: dict[str, Any]
                    ) -> list[dict[str, Any]]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(reports_sql.AUDIT_LOG, {**user.scope_params(), **f})
    return await cur.fetchall()
