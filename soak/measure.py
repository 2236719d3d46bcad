"""The soak's figures, read back from the database and the endpoints after the run.

Everything here is counted from what was stored and what arrived, never from what the
services say about themselves: a reading is kept if its row is there, an emergency delivered
if a message about its alert reached a person's endpoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

import psycopg

from detectors.evaluate import DETECTED_BY
from soak.people import Arrival

UTC = timezone.utc
FAULT_SHADOW_S = 600      # an unexplained alert this soon after a fault is the fault's doing


@dataclass
class Injected:
    home: str
    kind: str              # incident kind
    at: float              # wall time it happened (published)
    in_outage: bool = False
    outage_end: float | None = None    # in_outage: when that outage ended


def _pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return round(s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))], 2)


def stored_counts(conn: psycopg.Connection, prefix: str, since: datetime
                  ) -> dict[str, tuple[int, int]]:
    """device uid -> (rows, distinct (kind, seq)) for the run's homes."""
    rows = conn.execute(
        "SELECT d.uid, count(*), count(DISTINCT (r.kind, r.seq))"
        " FROM readings r JOIN devices d ON d.id = r.device_id JOIN homes h ON h.id = d.home_id"
        " WHERE h.code LIKE %s AND r.ts > %s GROUP BY d.uid", (prefix + "%", since)).fetchall()
    return {uid: (n, distinct) for uid, n, distinct in rows}


def stored_total(got: dict[str, tuple[int, int]], published: dict[str, int]) -> int:
    """Readings stored of those published: distinct per device, at most what it sent."""
    return sum(min(d, published.get(u, 0)) for u, (_, d) in got.items())


def readings_figures(conn: psycopg.Connection, prefix: str, since: datetime,
                     published: dict[str, int]) -> dict:
    got = stored_counts(conn, prefix, since)
    lost = sum(max(0, n - got.get(uid, (0, 0))[1]) for uid, n in published.items())
    dup = sum(rows - distinct for rows, distinct in got.values())
    short = sorted(((uid, n - got.get(uid, (0, 0))[1]) for uid, n in published.items()
                    if n > got.get(uid, (0, 0))[1]), key=lambda x: -x[1])
    return {"published": sum(published.values()),
            "stored": stored_total(got, published),
            "stored_rows": sum(r for r, _ in got.values()),
            "lost": lost, "duplicates": dup, "lost_by_device": dict(short[:20])}


def quarantined(conn: psycopg.Connection, prefix: str, since: datetime) -> int:
    """Messages of the run's devices refused by the ingest (kept, or counted past the quota)."""
    (n,) = conn.execute("SELECT coalesce(sum(n), 0) FROM rejected_counts"
                        " WHERE hour >= %s AND device_uid LIKE %s",
                        (since.replace(minute=0, second=0, microsecond=0), prefix + "%")
                        ).fetchone()
    (m,) = conn.execute("SELECT count(*) FROM rejected_messages"
                        " WHERE received_at >= %s AND device_uid LIKE %s",
                        (since, prefix + "%")).fetchone()
    return max(int(n), int(m))


def throughput(conn: psycopg.Connection, prefix: str, since: datetime, t0: float,
               bucket_s: int = 10) -> list[list[float]]:
    rows = conn.execute(
        "SELECT time_bucket(make_interval(secs => %s), r.received_at) AS b, count(*)"
        " FROM readings r JOIN devices d ON d.id = r.device_id JOIN homes h ON h.id = d.home_id"
        " WHERE h.code LIKE %s AND r.ts > %s AND r.received_at >= %s GROUP BY b ORDER BY b",
        (bucket_s, prefix + "%", since, datetime.fromtimestamp(t0, UTC))).fetchall()
    # A bucket nothing was stored in (the database stopped) is a zero, not a gap to draw over.
    got = {round(b.timestamp()): n for b, n in rows}
    if not got:
        return []
    first, last = min(got), max(got)
    return [[round(t - t0, 1), round(got.get(t, 0) / bucket_s, 1)]
            for t in range(first, last + 1, bucket_s)]


@dataclass
class AlertRow:
    id: int
    home: str
    kind: str
    opened_at: float
    acknowledged_at: float | None
    acknowledged_by: str | None
    stop_reason: str | None


def alerts(conn: psycopg.Connection, prefix: str, t0: float) -> list[AlertRow]:
    rows = conn.execute(
        "SELECT a.id, h.code, a.kind, a.opened_at, a.acknowledged_at, a.acknowledged_by,"
        "       e.stop_reason"
        " FROM alerts a JOIN homes h ON h.id = a.home_id"
        " LEFT JOIN alert_escalations e ON e.alert_id = a.id"
        " WHERE h.code LIKE %s AND a.opened_at >= %s ORDER BY a.id",
        (prefix + "%", datetime.fromtimestamp(t0 - 60, UTC))).fetchall()
    return [AlertRow(i, c, k, o.timestamp(), a.timestamp() if a else None, by, sr)
            for i, c, k, o, a, by, sr in rows]


def sends_after_ack(conn: psycopg.Connection, ids: list[int]) -> int:
    """Escalation messages started more than 2 s after the alert was acknowledged (a send
    already under way then is not an escalation that failed to stop)."""
    if not ids:
        return 0
    (n,) = conn.execute(
        "SELECT count(*) FROM delivery_attempts t JOIN deliveries d ON d.id = t.delivery_id"
        " JOIN alerts a ON a.id = d.alert_id"
        " WHERE a.id = ANY(%s) AND d.purpose = 'alert' AND a.acknowledged_at IS NOT NULL"
        "   AND d.created_at > a.acknowledged_at + interval '2 s'", (ids,)).fetchone()
    return int(n)


def emergencies(injected: list[Injected], rows: list[AlertRow], arrivals: list[Arrival],
                t0: float) -> tuple[dict, list[list], dict[int, Injected]]:
    """Match each injected emergency to its alert and its first arrival at a person."""
    first: dict[int, float] = {}
    for a in arrivals:
        if a.alert_id and a.who != "operators":
            first[a.alert_id] = min(first.get(a.alert_id, a.at), a.at)
    by_home: dict[str, list[AlertRow]] = {}
    for r in rows:
        by_home.setdefault(r.home, []).append(r)
    matched: dict[int, Injected] = {}
    lat, lat_out, timeline = [], [], []
    out_delivered = 0
    merged = 0
    for e in injected:
        if e.kind == "collapse" or e.kind not in DETECTED_BY:
            continue
        kinds = DETECTED_BY[e.kind]
        alert = next((r for r in by_home.get(e.home, []) if r.kind in kinds
                      and r.opened_at >= e.at - 120 and r.id not in matched), None)
        latency = None
        if alert is None and any(r.kind in kinds and r.opened_at < e.at
                                 for r in by_home.get(e.home, [])):
            # pressed again while the home's earlier alert of this kind was unresolved: the
            # detectors merge it into that one (one unresolved alert per home and kind), and
            # if that alert was acknowledged nobody hears of the new press
            merged += 1
        if alert is not None:
            matched[alert.id] = e
            if alert.id in first:
                latency = max(0.0, first[alert.id] - e.at)
        if e.in_outage:
            if latency is not None:
                out_delivered += 1
                lat_out.append(first[alert.id] - (e.outage_end or e.at))
        elif latency is not None:
            lat.append(latency)
        timeline.append([round(e.at - t0, 1), None if latency is None else round(latency, 2),
                         e.kind])
    normal = [e for e in injected if e.kind in DETECTED_BY and e.kind != "collapse"
              and not e.in_outage]
    n = len(normal)
    fig = {
        "emergencies_injected": n,
        "emergencies_delivered": len(lat),
        "deliver_p50_s": _pct(lat, 0.5), "deliver_p99_s": _pct(lat, 0.99),
        "deliver_max_s": round(max(lat), 2) if lat else None,
        "delivered_within_60s": round(sum(x <= 60 for x in lat) / n, 4) if n else None,
        "delivered_within_180s": round(sum(x <= 180 for x in lat) / n, 4) if n else None,
        "emergencies_merged_unnotified": merged,
        "emergencies_in_outage": sum(e.in_outage for e in injected),
        "in_outage_delivered": out_delivered,
        "in_outage_max_s_after_recovery": round(max(lat_out), 1) if lat_out else None,
    }
    return fig, timeline, matched


def collapses(injected: list[Injected], rows: list[AlertRow], arrivals: list[Arrival]) -> dict:
    cs = [e for e in injected if e.kind == "collapse"]
    found, after = 0, []
    for e in cs:
        hit = next((r for r in rows if r.home == e.home and r.kind in DETECTED_BY["collapse"]
                    and r.opened_at >= e.at), None)
        if hit is not None:
            found += 1
            after.append(round((hit.opened_at - e.at) / 60, 1))
    return {"collapses_injected": len(cs), "collapses_detected": found,
            "collapse_found_after_min": after}


def classify(rows: list[AlertRow], matched: dict[int, Injected], explained: dict[str, set[str]],
             faults: list[tuple[float, float]], arrivals: list[Arrival], homes: int,
             minutes: float) -> dict:
    """Alerts nobody injected: caused by a fault (opened during one or soon after), or false."""
    family_msgs: dict[int, int] = {}
    for a in arrivals:
        if a.who == "family" and a.alert_id:
            family_msgs[a.alert_id] = family_msgs.get(a.alert_id, 0) + 1
    fault_caused, false_alarms, pages = [], [], 0
    for r in rows:
        why = explained.get(r.home, set())
        if r.id in matched or r.kind in why or "*" in why:
            continue
        if any(a <= r.opened_at <= b + FAULT_SHADOW_S for a, b in faults):
            fault_caused.append(r)
            pages += family_msgs.get(r.id, 0)
        else:
            false_alarms.append(r)
    home_days = homes * minutes / 1440
    kinds: dict[str, int] = {}
    for r in false_alarms + fault_caused:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    return {"outage_family_pages": pages, "fault_alerts": len(fault_caused),
            "false_alarms": len(false_alarms),
            "false_alarms_per_home_day": round(len(false_alarms) / home_days, 3)
            if home_days else None,
            "unexplained_by_kind": kinds}


def acks(rows: list[AlertRow], matched: dict[int, Injected]) -> dict:
    mine = [r for r in rows if r.id in matched]
    acked = [r for r in mine if r.acknowledged_at is not None]
    stopped = [r for r in acked if "acknowledged" in (r.stop_reason or "")]
    return {"acknowledged": len(acked), "escalations_stopped_on_ack": len(stopped)}
