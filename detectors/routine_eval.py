"""Which routine model: each candidate scored on the same simulated days (a command, not a test).

    .venv/bin/python -m detectors.routine_eval --homes 12 --days 35 --seed 0
    .venv/bin/python -m detectors.routine_eval --bound --kinds decline --homes 48 --days 42

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

from detectors.routine import KEEP_DAYS, MIN_DAYS, MODELS, RobustModel, usable
from detectors.routine_features import days_features

DAY = 86400


def home_days(home, start: int, end: int, incs) -> tuple[list[float], np.ndarray]:  # type: ignore[no-untyped-def]
    from devtools.evaluation import simulated
    return days_features(*simulated(home, start, end, incs))


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


def _labelled(job: tuple) -> list[tuple[str, int, int, np.ndarray]]:
    """One home's evaluated days: (persona, incident number or -1, day of it, features). A
    day's features are its signed deviations from the home's days outside incidents before
    it (the labels known: the best case) and the mean of its and the day before's."""
    from simulators import incidents as inc_mod
    h, seed, start, end, kinds, per_week = job
    eval_start = start + 7 * DAY
    rng = random.Random(f"routine-bound:{seed}:{h.code}")
    incs = inc_mod.random_for_home(h, rng, eval_start, end - 2 * DAY, per_week, list(kinds))

    def which(d0: float) -> tuple[int, int]:
        for n, inc in enumerate(incs):
            if inc.start - DAY < d0 + DAY and d0 < inc.end + 12 * 3600:
                return n, int(round((d0 - inc.start) / DAY))
        return -1, -1

    ds, X = home_days(h, start, end, incs)
    out, prev = [], None
    for i, d0 in enumerate(ds):
        clean = [j for j in range(max(0, i - KEEP_DAYS - 7), i)
                 if usable(X[j]) and which(ds[j])[0] < 0][-KEEP_DAYS:]
        if d0 < eval_start or len(clean) < MIN_DAYS or not usable(X[i]):
            prev = None
            continue
        m = RobustModel().fit(X[clean])
        z = np.nan_to_num(m.sign * (X[i] - m.med) / m.scale)
        n, k = which(d0)
        out.append((h.persona, n, k, np.concatenate([z, (z + (prev if prev is not None
                                                            else z)) / 2])))
        prev = z
    return out


def bound(homes: int, days: int, seed: int, kinds: Sequence[str], fa: float,
          per_week: float = 0.7, workers: int = 2) -> dict:
    """What any rule on the day's features could find within 48 h at `fa` flagged days a
    home-day outside incidents, at best: a scikit-learn logistic regression taught the
    answer (the first two days of each incident against the days outside them) on the
    homes of `seed`, judged on other homes (`seed` + 1). A rule that learns only from the
    home's own unlabelled days does not do better."""
    from sklearn.linear_model import LogisticRegression

    from devtools.evaluation import _map
    from simulators.generate import FleetSpec
    personas = ("early_riser", "night_owl", "frail", "dementia")
    sets = []
    for sd in (seed, seed + 1):
        spec = FleetSpec(homes=homes, days=days, seed=sd, personas=personas)
        start, end = spec.span()
        jobs = [(h, sd, start, end, tuple(kinds), per_week) for h in spec.make_homes()]
        sets.append([(h.code,) + r for h, rows in zip(spec.make_homes(), _map(_labelled, jobs,
                                                                               workers))
                     for r in rows])
    train, test = sets
    fit = [r for r in train if r[2] < 0 or 0 <= r[3] <= 1]
    clf = LogisticRegression(C=0.3, max_iter=3000, class_weight="balanced").fit(
        np.clip(np.array([r[4] for r in fit]), -8, 8), np.array([r[2] >= 0 for r in fit]))
    p = clf.predict_proba(np.clip(np.array([r[4] for r in test]), -8, 8))[:, 1]
    clean = np.sort(p[[r[2] < 0 for r in test]])[::-1]
    thr = clean[min(len(clean) - 1, int(fa * len(clean)))]
    found: dict[tuple[str, int], bool] = {}
    persona: dict[tuple[str, int], str] = {}
    for r, v in zip(test, p):
        if r[2] >= 0:
            key = (r[0], r[2])
            persona[key] = r[1]
            found[key] = found.get(key, False) or (0 <= r[3] <= 1 and v > thr)
    per = {q: [sum(found[k] for k in found if persona[k] == q),
               sum(1 for k in found if persona[k] == q)] for q in personas}
    return {"homes": homes, "days": days, "seeds": [seed, seed + 1], "kinds": list(kinds),
            "fa_per_home_day": fa, "incidents": len(found),
            "recall_48h": round(sum(found.values()) / max(1, len(found)), 3),
            "per_persona": per}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--homes", type=int, default=8)
    p.add_argument("--days", type=int, default=35)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kinds", default="illness,decline")
    p.add_argument("--fa", type=float, default=0.03)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--json", action="store_true")
    p.add_argument("--bound", action="store_true",
                   help="the best any rule on the features could do: a model taught the "
                        "answer on the homes of --seed, judged on those of --seed + 1")
    a = p.parse_args(argv)
    if a.bound:
        b = bound(a.homes, a.days, a.seed, a.kinds.split(","), a.fa)
        if a.json:
            print(json.dumps(b, indent=1))
            return 0
        print(f"{b['kinds']}, {b['homes']} homes x {b['days']} days, taught on seed {a.seed}, "
              f"judged on seed {a.seed + 1}, {a.fa} flagged days a home-day outside incidents:")
        print(f"  within 48 h of onset, at best: {b['recall_48h']:.2f} of {b['incidents']}  " +
              "  ".join(f"{q} {h}/{n}" for q, (h, n) in b["per_persona"].items()))
        return 0
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
