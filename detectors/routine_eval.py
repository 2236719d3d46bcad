"""Which routine model: each candidate scored on the same simulated days (a command, not a test).

    .venv/bin/python -m detectors.routine_eval --homes 12 --days 35 --seed 0

Every simulated home gets routine incidents (illness, decline; `--kinds`); each evaluated
day is scored by each model fitted on the home's usable days before it (at most 28, at least
7), as the rule does at midnight. A day is flagged when its score, or the mean of its and
the day before's, reaches the model's threshold; each model's threshold is set so that
days outside incidents (and 12 h after) are flagged at `--fa` a home-day, then the share
of incidents flagged within 48 h of onset is compared. Equal false alarms, so the recall
says which model sees a change of routine better.
"""

from __future__ import annotations

import argparse
import json
import random
from typing import Sequence

import numpy as np

from detectors.events import DeviceInfo, Event, HomeInfo
from detectors.routine import MIN_DAYS, MODELS, KEEP_DAYS, usable
from detectors.routine_features import days_features

DAY = 86400


def home_days(home, start: int, end: int, incs) -> tuple[list[float], np.ndarray]:  # type: ignore[no-untyped-def]
    from simulators.generate import home_events
    evs: list[Event] = []
    for chunk in home_events(home, start, end, incs):
        evs.extend(Event(float(t), home.devices[i].uid, k, float(v), home.devices[i].room)
                   for t, i, k, v in chunk)
    info = HomeInfo(home.code, home.tz, tuple(DeviceInfo(d.uid, d.kind, d.room)
                                              for d in home.devices))
    return days_features(info, evs)


def day_scores(days: list[float], X: np.ndarray, model: str, first: int) -> list[float | None]:
    out: list[float | None] = []
    for i in range(len(days)):
        if i < first:
            out.append(None)
            continue
        prev = [j for j in range(max(0, i - KEEP_DAYS - 7), i) if usable(X[j])][-KEEP_DAYS:]
        if len(prev) < MIN_DAYS or not usable(X[i]):
            out.append(None)
            continue
        out.append(MODELS[model]().fit(X[prev]).score(X[i]))
    return out


def combined(s: Sequence[float | None]) -> list[float]:
    """A day's statistic: its own score, or the mean of two days' when both are high."""
    out = []
    for i, v in enumerate(s):
        if v is None:
            out.append(0.0)
            continue
        p = s[i - 1] if i and s[i - 1] is not None else None
        out.append(max(0.8 * v, (v + p) / 2 if p is not None else 0.0))
    return out


def run(homes: int, days: int, seed: int, kinds: Sequence[str], fa: float,
        models: Sequence[str], per_week: float = 0.6) -> dict:
    from simulators import incidents as inc_mod
    from simulators.generate import FleetSpec
    spec = FleetSpec(homes=homes, days=days, seed=seed)
    start, end = spec.span()
    eval_start = start + 7 * DAY
    rows = []     # (model, stat, inside incident, incident id or None, within 48 h)
    incidents = 0
    for h in spec.make_homes():
        rng = random.Random(f"routine-eval:{seed}:{h.code}")
        incs = inc_mod.random_for_home(h, rng, eval_start, end - 2 * DAY, per_week, list(kinds))
        ds, X = home_days(h, start, end, incs)
        first = next((i for i, d in enumerate(ds) if d >= eval_start), len(ds))
        for m in models:
            st = combined(day_scores(ds, X, m, first))
            for i in range(first, len(ds)):
                d0 = ds[i]
                inside, hit48 = None, False
                for n, inc in enumerate(incs):
                    if inc.start - DAY < d0 + DAY and d0 < inc.end + 12 * 3600:
                        inside = f"{h.code}:{n}"
                        hit48 = d0 + DAY <= inc.start + 2 * DAY + 3600
                rows.append((m, st[i], inside, hit48, h.persona))
        incidents += len(incs)
    out: dict = {"homes": homes, "days": days, "seed": seed, "kinds": list(kinds),
                 "incidents": incidents, "fa_target": fa, "models": {}}
    for m in models:
        r = [x for x in rows if x[0] == m]
        clean = sorted((x[1] for x in r if x[2] is None), reverse=True)
        k = max(0, int(fa * len(clean)))
        thr = clean[k] + 1e-9 if k < len(clean) else 0.0
        ids = {x[2] for x in r if x[2] is not None}
        found = {x[2] for x in r if x[2] is not None and x[3] and x[1] >= thr}
        ever = {x[2] for x in r if x[2] is not None and x[1] >= thr}
        fa_rate = sum(1 for x in r if x[2] is None and x[1] >= thr) / max(1, len(clean))
        out["models"][m] = {"threshold": round(thr, 3), "fa_per_home_day": round(fa_rate, 4),
                            "recall_48h": round(len(found) / max(1, len(ids)), 3),
                            "recall_span": round(len(ever) / max(1, len(ids)), 3),
                            "incidents": len(ids)}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--homes", type=int, default=8)
    p.add_argument("--days", type=int, default=35)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kinds", default="illness,decline")
    p.add_argument("--fa", type=float, default=0.03)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    rep = run(a.homes, a.days, a.seed, a.kinds.split(","), a.fa, a.models.split(","))
    if a.json:
        print(json.dumps(rep, indent=1))
        return 0
    print(f"{rep['homes']} homes x {rep['days']} days, seed {rep['seed']}, {rep['kinds']}: "
          f"{rep['incidents']} incidents; thresholds at {rep['fa_target']} flagged days "
          "a home-day outside incidents")
    print(f"{'model':18} {'threshold':>9} {'FA/day':>7} {'recall 48h':>10} {'recall span':>11}")
    for m, v in rep["models"].items():
        print(f"{m:18} {v['threshold']:>9.3f} {v['fa_per_home_day']:>7.3f} "
              f"{v['recall_48h']:>10.2f} {v['recall_span']:>11.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
