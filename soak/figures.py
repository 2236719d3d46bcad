"""The soak run's figures, read back at its end from the database, the endpoints, the
services and the faults done: the dict that soak.report and soak.timeline render."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime

import psycopg

from detectors.evaluate import DETECTED_BY
from soak import measure
from soak.faults import FaultRunner, Intruder
from soak.options import UTC, Run
from soak.people import Endpoints, Responder
from soak.services import Services


def collect(run: Run, db_url: str, drive: dict, services: Services, faults: FaultRunner,
            ep: Endpoints, responder: Responder, intruder: Intruder) -> dict:
    """Everything `anju soak` reports, measured once the run has drained."""
    o, plan = run.o, run.plan
    stats, realism = drive["stats"], drive["realism"]
    injected: list[measure.Injected] = drive["injected"]
    since = run.readings_since
    t0 = run.t_load
    with psycopg.connect(db_url) as conn:
        rf = measure.readings_figures(conn, run.prefix, since, stats.by_device)
        quarantined = measure.quarantined(conn, run.prefix,
                                          datetime.fromtimestamp(run.started_at, UTC))
        rows = measure.alerts(conn, run.prefix, run.started_at)
        tput = measure.throughput(conn, run.prefix, since, t0)
        (hijacked,) = conn.execute(
            "SELECT count(*) FROM readings r JOIN devices d ON d.id = r.device_id"
            " WHERE d.uid = %s AND r.seq = 424242 AND r.ts > %s",
            (intruder.victim_uid, since)).fetchone()
        em, timeline, matched = measure.emergencies(injected, rows, ep.arrivals, t0)
        after_ack = measure.sends_after_ack(conn, list(matched))
    explained: dict[str, set[str]] = {}
    for code, incs in drive["incidents"].items():
        for i in incs:
            # a resident lying on the floor also uses no water, cooks nothing, ...: true too
            explained.setdefault(code, set()).update(
                {"*"} if i.kind == "collapse" else DETECTED_BY.get(i.kind, ()))
    windows = [(d.at, d.end or d.at) for d in faults.done]
    drops = realism.gateway_drops
    cls = measure.classify(rows, matched, explained, windows, ep.arrivals, o.homes, o.minutes)
    fault_list = []
    for d in faults.done:
        detail, detail_zh = d.detail, d.detail_zh
        if d.fault.kind == "hijack" and hijacked:
            detail += f": {hijacked} reading(s) stored on the victim's device, A SECURITY FAULT"
            detail_zh += f"：他人设备上存入了 {hijacked} 条读数，安全故障"
        elif d.fault.kind == "hijack":
            detail += ": dropped, nothing stored"
            detail_zh += "：被丢弃，未存入任何读数"
        fault_list.append({"kind": d.fault.kind, "at_s": round(d.at - t0, 1),
                           "end_s": round((d.end or d.at) - t0, 1), "detail": detail,
                           "detail_zh": detail_zh, "recovery_s": d.recovery_s})
    svc = services.figures()
    figures = {
        "homes": o.homes, "minutes": o.minutes, "speed": o.speed, "seed": o.seed,
        "faults_plan": plan.source,
        "started_at": datetime.fromtimestamp(run.started_at, UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.time() - run.started_at, 1),
        "published": rf["published"], "stored": rf["stored"], "lost": rf["lost"],
        "duplicates": rf["duplicates"], "duplicates_sent": realism.duplicates_sent,
        "malformed_sent": realism.malformed_sent + faults.poison_sent,
        "oversize_refused_by_broker": faults.oversize_sent,
        "quarantined": quarantined, "gateway_drops": drops,
        **em,
        **measure.acks(rows, matched), "escalations_after_ack": after_ack,
        **cls,
        **measure.collapses(injected, rows, ep.arrivals),
        "hijack_refused": faults.hijack_refused + faults.hijack_publishes - min(
            hijacked, faults.hijack_publishes) if faults.hijack_tries else None,
        "hijack_tries": faults.hijack_tries or None,
        "operator_notices": sum(1 for a in ep.arrivals if a.who == "operators"),
        "messages_by_recipient": dict(Counter(a.who for a in ep.arrivals)),
        "acks_by_link": sum(1 for a in responder.acks.values() if a.via == "link" and a.done_at),
        "acks_by_console": sum(1 for a in responder.acks.values()
                               if a.via == "console" and a.done_at),
        "faults": fault_list,
        "services": svc,
        "crashes": {n: u["crashes"] for n, u in svc.items() if u.get("crashes")},
        "lost_by_device": rf["lost_by_device"],
        "timeline": {"throughput": tput, "emergencies": timeline},
    }
    return figures
