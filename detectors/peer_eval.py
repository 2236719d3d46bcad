"""The peer (Wilhelm & Wahl 2024, detectors/peer.py) through anju's evaluation protocol, the
trade-off curves of both, and anju's water rules on a real meter stream (AMPds2).

Same data, same protocol as detectors/evaluate.py: learn on the first 7 full local days,
evaluate on the rest, thresholds re-learned at every local midnight; recorded logs get the
same collapses (the same seeded times T, all events in (T, T + 24 h] removed) and simulated
homes are scored against the simulators' ground truth with evaluate.score(). Each alarm of
the peer is an `inactivity` finding: the peer has no notion of away, so every alarm it
raises outside an incident is a false alarm, and any alarm within 12 h of a collapse finds
it. Reports are evaluate.Report, so the figures are computed by the same code as anju's.
"""

from __future__ import annotations

import bisect
import gzip
import random
import time
from dataclasses import dataclass
from typing import Sequence

from detectors import evaluate as ev
from detectors import peer
from detectors.clock import LocalClock
from detectors.config import DetectorConfig
from detectors.events import DeviceInfo, Event, Finding, HomeInfo

NAME = "wilhelm2024"
# The peer's k: 1.1 is the published value; the sweep spans quicker to quieter.
K_SWEEP = (0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)


def _first_day(tz: str, t: float) -> float:
    return LocalClock(tz).day(t)


def _findings(alarms: Sequence[float]) -> list[Finding]:
    return [Finding("inactivity", "open", a) for a in alarms]


# -- recorded logs ---------------------------------------------------------------------------

def collapse_times(info: HomeInfo, events: Sequence[Event], eval_start: float, end: float,
                   incidents: int, seed: int) -> list[float]:
    """The collapse times T evaluate.evaluate_log draws for this log and seed (the same
    generator, the same redraws), so that anju and the peer face the same collapses."""
    rng = random.Random(f"collapse:{seed}:{info.home}")
    signs = [e for e in events if ev._is_sign(e)]
    acts = [e.ts for e in signs]
    doors = [e.ts for e in events if e.kind == "door"]
    out = []
    for _ in range(incidents):
        for _ in range(1000):
            T = rng.uniform(eval_start, end - ev.WINDOW)
            if ev._at_home(T, signs, acts, doors):
                break
        out.append(T)
    return out


def evaluate_log(info: HomeInfo, events: list[Event], *, incidents: int = 40, seed: int = 0,
                 ks: Sequence[float] = (peer.K_DEFAULT,), label: str = "",
                 cfg: DetectorConfig | None = None) -> list[ev.Report]:
    """One Report per k on a recorded log (the `sensitivity` field holds k)."""
    cfg = cfg or DetectorConfig()
    t0 = time.perf_counter()
    ts, eval_start, end = ev.log_window(info, events)
    clock = LocalClock(info.tz)
    day0 = _first_day(info.tz, ts[0])
    runs = {k: ev.HomeRun(info.home, label or info.home, (end - eval_start) / ev.DAY,
                          events=len(events)) for k in ks}
    alarms = peer.run(peer.activations(events, cfg), info.tz, day0, eval_start, end, ks)
    for k in ks:
        ev.score(_findings(alarms[k]), [], eval_start, runs[k])
    for T in collapse_times(info, events, eval_start, end, incidents, seed):
        cut_lo = bisect.bisect_right(ts, T)
        cut_hi = bisect.bisect_right(ts, T + ev.DAY)
        acts = peer.activations(events[:cut_lo] + events[cut_hi:], cfg)
        b = clock.day(T)
        got = peer.run(acts, info.tz, day0, b, T + ev.WINDOW + 1, ks)
        for k in ks:
            hit = next((a - T for a in got[k] if a >= T), None)
            runs[k].outcomes.append(("collapse", hit if hit is not None and hit <= ev.WINDOW
                                     else None))
    dt = time.perf_counter() - t0
    return [ev.Report(f"{NAME} k={k:g}: {label or info.home}: {len(events)} events", [runs[k]],
                      dt, k) for k in ks]


# -- simulated homes -------------------------------------------------------------------------

def _sim_home(job: tuple) -> dict[float, ev.HomeRun]:
    from devtools.evaluation import simulated  # lazy: the simulators only for --simulate

    home, start, end, eval_start, incs, ks = job
    _, evs = simulated(home, start, end, incs)
    truths = [ev.Truth(i.kind, float(i.start), float(i.end), i.details.get("uid")) for i in incs]
    alarms = peer.run(peer.activations(evs), home.tz, _first_day(home.tz, float(start)),
                      eval_start, end, ks)
    out = {}
    for k in ks:
        run = ev.HomeRun(home.code, home.persona, (end - eval_start) / ev.DAY, events=len(evs))
        ev.score(_findings(alarms[k]), truths, eval_start, run)
        out[k] = run
    return out


def evaluate_simulated(homes: int = 8, days: int = 28, seed: int = 0, *,
                       personas: Sequence[str] = (), per_week: float = 1.0,
                       kinds: Sequence[str] = (), ks: Sequence[float] = (peer.K_DEFAULT,),
                       workers: int = 1) -> list[ev.Report]:
    """The peer on the same simulated homes and incidents as evaluation.evaluate_simulated
    (the same fleet spec, the same incident draw); one Report per k."""
    from devtools.evaluation import _map, draw_incidents
    from simulators.generate import FleetSpec

    t0 = time.perf_counter()
    spec = FleetSpec(homes=homes, days=days, seed=seed, personas=tuple(personas))
    start, end = spec.span()
    eval_start = start + ev.LEARN_DAYS * ev.DAY
    jobs = [(h, start, end, eval_start, draw_incidents(h, seed, eval_start, end, per_week, kinds),
             tuple(ks)) for h in spec.make_homes()]
    per_home = _map(_sim_home, jobs, workers)
    dt = time.perf_counter() - t0
    return [ev.Report(f"{NAME} k={k:g}: simulated {homes} homes x {days} days, seed {seed}",
                      [r[k] for r in per_home], dt, k) for k in ks]


# -- the trade-off curves --------------------------------------------------------------------

@dataclass(frozen=True)
class Point:
    setting: float            # anju's sensitivity or the peer's k
    fa: float                 # false alarms per (home-)day
    median: float | None      # median delay of the collapses found, min
    recall: float | None
    p90: float | None = None


def point(rep: dict, *, with_not_back: bool = False) -> Point:
    c = rep["incidents"].get("collapse", {})
    fa = rep["false_alarms_with_not_back_per_home_day" if with_not_back
             else "false_alarms_per_home_day"]
    return Point(rep["sensitivity"], fa or 0.0, c.get("median_delay_min"), c.get("recall"),
                 c.get("p90_delay_min"))


def dominates(q: Point, p: Point) -> bool:
    """q has fewer-or-equal false alarms and a shorter-or-equal median delay than p, one of
    them strictly. A point that found nothing (no median) dominates nothing."""
    if q.median is None:
        return False
    if p.median is None:
        return q.fa <= p.fa
    return q.fa <= p.fa and q.median <= p.median and (q.fa < p.fa or q.median < p.median)


def dominated_by(p: Point, curve: Sequence[Point]) -> list[Point]:
    return [q for q in curve if dominates(q, p)]


def curves_table(anju: Sequence[dict], peer_reps: Sequence[dict], default: float) -> str:
    """Both curves side by side, and whether anju's default is dominated."""
    a = [point(r) for r in anju]
    an = [point(r, with_not_back=True) for r in anju]
    b = [point(r) for r in peer_reps]

    def cell(p: Point | None) -> str:
        if p is None:
            return f"{'':>8} {'':>8} {'':>7} {'':>7}"
        med = "-" if p.median is None else f"{p.median:.0f}"
        rec = "-" if p.recall is None else f"{p.recall:.2f}"
        return f"{p.fa:>8.3f} {med:>8} {rec:>7} {p.setting:>7g}"

    lines = [f"{'anju FA/d':>8} {'median':>8} {'recall':>7} {'sens':>7} | "
             f"{NAME + ' FA/d':>8} {'median':>8} {'recall':>7} {'k':>7}"]
    for i in range(max(len(a), len(b))):
        lines.append(f"{cell(a[i] if i < len(a) else None)} | {cell(b[i] if i < len(b) else None)}")
    d = next((p for p in a if p.setting == default), None)
    dn = next((p for p in an if p.setting == default), None)
    if d is not None and dn is not None:
        lines.append(verdict(d, b, "inactivity false alarms"))
        lines.append(verdict(dn, b, "inactivity and not_back together"))
    return "\n".join(lines)


def verdict(d: Point, curve: Sequence[Point], what: str) -> str:
    dom = dominated_by(d, curve)
    head = (f"anju's default (sensitivity {d.setting:g}: {d.fa:.3f}/day, median "
            f"{d.median if d.median is not None else '-'} min; {what})")
    if not dom:
        return f"{head}: not dominated by any point of {NAME}'s curve"
    return f"{head}: DOMINATED by {NAME} " + ", ".join(
        f"k={q.setting:g} ({q.fa:.3f}/day, {q.median:.0f} min, recall {q.recall})" for q in dom)


def svg_plot(anju: Sequence[dict], peer_reps: Sequence[dict], default: float,
             title: str) -> str:
    """False alarms per day (x) against median delay (y), both curves, anju's default ringed.
    Hand-written SVG (no plotting library)."""
    a = [p for p in (point(r) for r in anju) if p.median is not None]
    b = [p for p in (point(r) for r in peer_reps) if p.median is not None]
    w, h, ml, mr, mt, mb = 640, 420, 60, 20, 40, 50
    xs = [p.fa for p in a + b] or [0.0]
    ys = [p.median for p in a + b if p.median is not None] or [0.0]
    xmax = max(0.05, max(xs)) * 1.1
    ymax = max(60.0, max(ys)) * 1.1

    def X(v: float) -> float:
        return ml + (w - ml - mr) * v / xmax

    def Y(v: float) -> float:
        return h - mb - (h - mt - mb) * v / ymax

    def esc(s: str) -> str:
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">',
           f'<rect width="{w}" height="{h}" fill="#fff"/>',
           f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="13">{esc(title)}</text>',
           f'<line x1="{ml}" y1="{h - mb}" x2="{w - mr}" y2="{h - mb}" stroke="#333"/>',
           f'<line x1="{ml}" y1="{mt}" x2="{ml}" y2="{h - mb}" stroke="#333"/>',
           f'<text x="{(w + ml) / 2}" y="{h - 12}" text-anchor="middle">'
           'false alarms per day</text>',
           f'<text x="16" y="{(h - mb + mt) / 2}" text-anchor="middle" '
           f'transform="rotate(-90 16 {(h - mb + mt) / 2})">median delay (min)</text>']
    for i in range(6):
        xv, yv = xmax * i / 5, ymax * i / 5
        out.append(f'<text x="{X(xv):.1f}" y="{h - mb + 14}" text-anchor="middle">{xv:.2f}</text>')
        out.append(f'<text x="{ml - 6}" y="{Y(yv) + 4:.1f}" text-anchor="end">{yv:.0f}</text>')
        out.append(f'<line x1="{ml}" y1="{Y(yv):.1f}" x2="{w - mr}" y2="{Y(yv):.1f}" '
                   'stroke="#eee"/>')
    for pts, colour, name, lab in ((a, "#1f6feb", "anju (sensitivity)", "s"),
                                   (b, "#d1242f", f"{NAME} (k)", "k")):
        if not pts:
            continue
        path = " ".join(f"{X(p.fa):.1f},{Y(p.median or 0):.1f}" for p in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        for p in pts:
            out.append(f'<circle cx="{X(p.fa):.1f}" cy="{Y(p.median or 0):.1f}" r="3" '
                       f'fill="{colour}"><title>{lab}={p.setting:g}: {p.fa:.3f}/day, '
                       f'{p.median:.0f} min, recall {p.recall}</title></circle>')
            out.append(f'<text x="{X(p.fa) + 5:.1f}" y="{Y(p.median or 0) - 4:.1f}" '
                       f'fill="{colour}" font-size="9">{p.setting:g}</text>')
        ly = mt + (12 if lab == "s" else 28)
        out.append(f'<line x1="{w - 190}" y1="{ly - 4}" x2="{w - 170}" y2="{ly - 4}" '
                   f'stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{w - 165}" y="{ly}">{esc(name)}</text>')
    d = next((p for p in a if p.setting == default), None)
    if d is not None:
        out.append(f'<circle cx="{X(d.fa):.1f}" cy="{Y(d.median or 0):.1f}" r="7" fill="none" '
                   'stroke="#1f6feb" stroke-width="2"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# -- real water: AMPds2 ----------------------------------------------------------------------

AMPDS2_TZ = "America/Vancouver"
WATER_KINDS = ("water_running", "no_water")


def load_ampds2(path: str) -> tuple[HomeInfo, list[Event]]:
    """The AMPds2 water file as one water meter's readings (cumulative litres a minute)."""
    from simulators import formats

    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        raw = formats.parse_ampds2(f, path)
    if not raw:
        raise ValueError(f"{path}: no readings")
    info = HomeInfo("ampds2", AMPDS2_TZ, (DeviceInfo("water-meter", "water", "kitchen", 60),))
    return info, [Event(e.ts.timestamp(), e.device, "water", e.value, "kitchen") for e in raw]


def evaluate_water(info: HomeInfo, events: list[Event],
                   cfg: DetectorConfig | None = None) -> dict:
    """anju's HomeMonitor over a real water meter stream, driven as evaluate.drive drives it
    (learn the first 7 days, then observe every reading, re-learn daily). With no door or
    motion sensor the monitor never sees the resident leave, so it takes them as at home
    all the time: every 12 h without water, also on the family's trips, counts."""
    cfg = cfg or DetectorConfig()
    t0 = time.perf_counter()
    ts, eval_start, end = ev.log_window(info, events, check=False)
    clock = LocalClock(info.tz)
    found = ev.drive(info, events, ts, eval_start, end, cfg, learn_from=ts[0])
    days = (end - eval_start) / ev.DAY
    opened: dict[str, list[float]] = {}
    for f in found:
        if f.state == "open" and f.at >= eval_start:
            opened.setdefault(f.kind, []).append(f.at)
    return {"source": "AMPds2 water meter (Burnaby, one family home), "
                      f"{len(events)} readings",
            "days": round(days, 1),
            "per_day": {k: round(len(opened.get(k, [])) / days, 4) for k in WATER_KINDS},
            "count": {k: len(opened.get(k, [])) for k in WATER_KINDS},
            "other_per_day": {k: round(len(v) / days, 4) for k, v in sorted(opened.items())
                              if k not in WATER_KINDS},
            "first": {k: [clock.hhmm(t) + " " + _date(t, info.tz) for t in opened.get(k, [])[:5]]
                      for k in WATER_KINDS},
            "runtime_s": round(time.perf_counter() - t0, 1)}


def _date(t: float, tz: str) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(t, ZoneInfo(tz)).strftime("%Y-%m-%d")


def water_table(rep: dict) -> str:
    lines = [f"{rep['source']}: {rep['days']} evaluated days (learned on the first "
             f"{ev.LEARN_DAYS})"]
    for k in WATER_KINDS:
        lines.append(f"{k:14} {rep['count'][k]:>5} alerts = {rep['per_day'][k]} per day"
                     + (f"  (first: {', '.join(rep['first'][k])})" if rep["first"][k] else ""))
    if rep["other_per_day"]:
        lines.append("other findings per day (no motion or door sensor: not water rules): "
                     + ", ".join(f"{k} {v}" for k, v in rep["other_per_day"].items()))
    lines.append(f"runtime {rep['runtime_s']} s")
    return "\n".join(lines)


# -- `anju eval --baseline wilhelm2024`, `--ampds2` ------------------------------------------

def parse_ks(text: str | None) -> tuple[float, ...]:
    if not text:
        return K_SWEEP
    try:
        ks = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"--k {text!r}: expected numbers such as 0.8,1.1,2") from None
    if not ks or any(k <= 0 for k in ks):
        raise ValueError(f"--k {text!r}: expected positive numbers")
    return ks


def cli_baseline(args, loaded: tuple[HomeInfo, list[Event]] | None,  # type: ignore[no-untyped-def]
                 anju: list[dict], default: float) -> int:
    """Run the peer; with --sweep print both curves side by side (and --plot the SVG)."""
    import json

    if args.baseline != NAME:
        raise ValueError(f"--baseline {args.baseline!r}: expected {NAME}")
    if args.live:
        raise ValueError("--baseline runs in process; drop --live")
    if args.plot and not args.sweep:
        raise ValueError("--plot draws the curves: add --sweep")
    ks = parse_ks(args.k) if args.sweep or args.k else (peer.K_DEFAULT,)
    if not args.sweep and len(ks) > 1:
        raise ValueError("--k: one value without --sweep")
    if loaded is not None:
        reps = evaluate_log(*loaded, incidents=args.incidents, seed=args.seed, ks=ks,
                            label=args.events.rsplit("/", 1)[-1])
        title = args.events.rsplit("/", 1)[-1]
    else:
        reps = evaluate_simulated(args.homes, args.days, args.seed,
                                  personas=[x for x in args.personas.split(",") if x],
                                  per_week=args.incidents_per_home_week,
                                  kinds=[x for x in args.incident_kinds.split(",") if x],
                                  ks=ks, workers=args.workers)
        title = f"simulated {args.homes} homes x {args.days} days, seed {args.seed}" + (
            f", {args.personas}" if args.personas else "")
    peer_d = [r.as_dict() for r in reps]
    if not args.sweep:
        print(json.dumps(peer_d[0]) if args.json else
              ev.table(peer_d[0]).replace("(sensitivity ", "(k ", 1))
        return 0
    if args.plot:
        with open(args.plot, "w", encoding="utf-8") as f:
            f.write(svg_plot(anju, peer_d, default, f"anju vs {NAME}: {title}"))
    if args.json:
        a = [point(r) for r in anju]
        d = next((p for p in a if p.setting == default), None)
        print(json.dumps({"anju": anju, NAME: peer_d, "default_dominated_by": [
            q.setting for q in dominated_by(d, [point(r) for r in peer_d])] if d else None}))
        return 0
    print(f"{title}: false alarms per day vs median collapse delay (min), recall")
    print(curves_table(anju, peer_d, default))
    if args.plot:
        print(f"plot: {args.plot}")
    return 0


def cli_ampds2(args, cfg: DetectorConfig) -> int:  # type: ignore[no-untyped-def]
    import json

    rep = evaluate_water(*load_ampds2(args.ampds2), cfg)
    print(json.dumps(rep, ensure_ascii=False) if args.json else water_table(rep))
    return 0
