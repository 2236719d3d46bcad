"""The published peer: Wilhelm & Wahl 2024 (Sensors 24:6583), written from its description.

Used by `anju eval --baseline wilhelm2024` to run the peer on the same data with the same
protocol as anju's own detectors (detectors/peer_eval.py). Pure: activations in, score and
thresholds out; nothing here reads the clock or does I/O.

The method, as described in ../shared/DETECTION-ANCHORS.md:

- A score S grows by one second per second. A sensor activation with certainty c multiplies
  S by (1 - w*c), where w = dt/R when the same sensor fired dt < R = 6 h * (1 - c) ago, else
  w = 1. A binary sensor (c = 1) has R = 0, so it resets S to 0: S is then the time since the
  last activation.
- The threshold at clock time t: for each reference day d (up to 30 past days, weekdays and
  weekends apart) v_d = the largest S on day d within t +- 1 h; threshold = k * min(max v,
  Q3 + 1.5 * IQR of v), k = 1.1 as published.
- Alarm while S > threshold.

The score is kept on a 60 s grid (as the anchor's re-implementation did): per minute the
largest S in it, which is S at the minute's end or the peak just before an activation in it
(S only grows between activations). Learning the thresholds is then column arithmetic over
a days x 1440 array.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

import numpy as np

from detectors.activity import ACT, DOOR, Meter, classify
from detectors.config import DetectorConfig
from detectors.events import Event

MIN = 60
DAY_MIN = 1440
WINDOW_MIN = 60          # t +- 1 h
REF_DAYS = 30
R_MAX_S = 6 * 3600.0     # R = 6 h * (1 - c)
K_DEFAULT = 1.1
IQR_K = 1.5


@dataclass(frozen=True, slots=True)
class Activation:
    ts: float
    sensor: str
    c: float = 1.0       # certainty that the activation is the resident


def activations(events: Iterable[Event], cfg: DetectorConfig | None = None) -> list[Activation]:
    """The peer's activations from anju's events: the readings anju takes as a sign of life
    (motion, any contact or mat change, the button, water starting to flow, a load switched
    on) and the entrance door, each a binary activation (c = 1). The peer has no notion of
    away, so the door is an activation like any other sensor."""
    cfg = cfg or DetectorConfig()
    meters: dict[str, Meter] = {}
    out: list[Activation] = []
    for e in events:
        meter = None
        if e.kind in ("water", "power"):
            meter = meters.get(e.device)
            if meter is None:
                meter = meters[e.device] = Meter()
        c = classify(e.kind, e.value, e.ts, meter, cfg)
        if c == ACT or c == DOOR:
            out.append(Activation(e.ts, e.device, 1.0))
    return out


def score_after(acts: Sequence[Activation]) -> tuple[np.ndarray, np.ndarray]:
    """(times, S just after each activation, S just before it) as arrays; S starts at 0 at
    the first activation. Returns (t, after, before)."""
    n = len(acts)
    t = np.fromiter((a.ts for a in acts), float, n)
    after = np.zeros(n)
    before = np.zeros(n)
    last: dict[str, float] = {}
    s, prev = 0.0, None
    for i, a in enumerate(acts):
        if prev is not None:
            s += a.ts - prev
        before[i] = s
        c = min(1.0, max(0.0, a.c))
        r = R_MAX_S * (1.0 - c)
        dt = a.ts - last[a.sensor] if a.sensor in last else None
        w = dt / r if dt is not None and dt < r else 1.0
        s *= 1.0 - w * c
        after[i] = s
        last[a.sensor] = a.ts
        prev = a.ts
    return t, after, before  # type: ignore[return-value]


def score_at(t: np.ndarray, after: np.ndarray, q: np.ndarray) -> np.ndarray:
    """S at times q (NaN before the first activation)."""
    i = np.searchsorted(t, q, side="right") - 1
    out = np.full(q.shape, np.nan)
    ok = i >= 0
    out[ok] = after[i[ok]] + (q[ok] - t[i[ok]])
    return out


class Grid:
    """Local days from `first_day` (a local midnight) on, as minute bins: day d, minute m is
    bin d * 1440 + m. A day of 23 or 25 hours (daylight saving) is cut at its midnights: its
    minutes are counted from its own midnight and a 25th hour joins the last minute."""

    def __init__(self, tz: str, first_day: float, days: int) -> None:
        z = ZoneInfo(tz)
        d0 = datetime.fromtimestamp(first_day, z).date()
        mids = []
        for d in range(days + 1):
            x = d0 + timedelta(days=d)
            mids.append(datetime(x.year, x.month, x.day, tzinfo=z).timestamp())
        self.mid = np.array(mids)
        self.days = days
        self.weekend = np.array([(d0 + timedelta(days=d)).weekday() >= 5 for d in range(days)])

    def bin_of(self, ts: np.ndarray) -> np.ndarray:
        d = np.searchsorted(self.mid, ts, side="right") - 1
        m = np.minimum(DAY_MIN - 1, ((ts - self.mid[np.clip(d, 0, self.days)]) // MIN)
                       .astype(np.int64))
        return d * DAY_MIN + m

    def bin_ends(self) -> np.ndarray:
        """End of each bin (the minute after it, or the day's end for its last minute)."""
        ends = self.mid[:-1, None] + MIN * np.arange(1, DAY_MIN + 1)[None, :]
        ends[:, -1] = self.mid[1:]
        return ends.ravel()


def minute_max(grid: Grid, t: np.ndarray, after: np.ndarray, before: np.ndarray) -> np.ndarray:
    """The largest S in each minute bin: S at the bin's end, or the peak just before an
    activation in it (S only grows between activations). NaN before the first activation."""
    m = score_at(t, after, grid.bin_ends())
    if len(t):
        keep = (t >= grid.mid[0]) & (t < grid.mid[-1])
        np.fmax.at(m, grid.bin_of(t[keep]), before[keep])
    return m


def windowed(m: np.ndarray, half: int = WINDOW_MIN) -> np.ndarray:
    """v over t +- half minutes: the largest value in each centred window (NaN when none)."""
    x = np.where(np.isnan(m), -np.inf, m)
    pad = np.full(half, -np.inf)
    xp = np.concatenate([pad, x, pad])
    v = np.lib.stride_tricks.sliding_window_view(xp, 2 * half + 1).max(axis=-1)
    v[np.isneginf(v)] = np.nan
    return v


def threshold(v: np.ndarray, k: float = K_DEFAULT) -> np.ndarray:
    """k * min(max v, Q3 + 1.5 IQR) per column of v (reference days x minutes); NaN rows
    (days without data at that time) left out; NaN where no day has data."""
    with np.errstate(all="ignore"):
        ok = ~np.all(np.isnan(v), axis=0)
        out = np.full(v.shape[1], np.nan)
        if not ok.any():
            return out
        vv = v[:, ok]
        q1, q3 = np.nanpercentile(vv, [25, 75], axis=0)
        hi = np.nanmax(vv, axis=0)
        out[ok] = k * np.minimum(hi, q3 + IQR_K * (q3 - q1))
    return out


def reference_days(grid: Grid, day: int, v_by_day: np.ndarray) -> np.ndarray:
    """Indices of the up to 30 past days of the same kind (weekday or weekend) as `day`
    that have data; all past days when none of its kind has."""
    past = np.arange(day)
    has = ~np.all(np.isnan(v_by_day[:day]), axis=1) if day else np.zeros(0, bool)
    same = past[has & (grid.weekend[:day] == grid.weekend[day])]
    if len(same) == 0:
        same = past[has]
    return same[-REF_DAYS:]


def run(acts: Sequence[Activation], tz: str, first_day: float, start: float, stop: float,
        ks: Sequence[float] = (K_DEFAULT,)) -> dict[float, list[float]]:
    """Alarm onsets in [start, stop) for each k: the thresholds re-learned at every local
    midnight from the days before it (as the service re-learns), S on the 60 s tick. An
    alarm opens when S exceeds the threshold and stays open until an activation brings S
    back under it (one alarm per stillness, as anju's findings)."""
    days = int(np.ceil((stop - first_day) / 86400.0)) + 2
    grid = Grid(tz, first_day, days)
    while grid.mid[-1] < stop:
        days += 1
        grid = Grid(tz, first_day, days)
    t, after, before = score_after(acts)
    m_all = minute_max(grid, t, after, before)
    full = windowed(m_all).reshape(days, DAY_MIN)
    d_lo = int(np.searchsorted(grid.mid, start, side="right") - 1)
    d_hi = int(np.searchsorted(grid.mid, stop, side="left"))
    out: dict[float, list[float]] = {k: [] for k in ks}
    open_: dict[float, bool] = {k: False for k in ks}
    for d in range(max(0, d_lo), min(days, d_hi)):
        lo, hi = max(grid.mid[d], start), min(grid.mid[d + 1], stop)
        ticks = np.arange(np.ceil(lo / MIN) * MIN, hi, MIN)
        if not len(ticks):
            continue
        base = learn_day(grid, d, m_all, full)
        s = score_at(t, after, ticks)
        minute = np.minimum(DAY_MIN - 1, ((ticks - grid.mid[d]) // MIN).astype(np.int64))
        # an activation since the previous tick may have brought S back under the threshold
        j = np.searchsorted(t, ticks, side="right")
        j_prev = np.searchsorted(t, ticks - MIN, side="right")
        moved = j > j_prev
        for k in ks:
            over = s > k * base[minute]       # NaN threshold (nothing learned): no alarm
            close = moved & ~over
            idx = np.flatnonzero(over | close)
            if not len(idx):
                continue
            is_over = over[idx]
            prev = np.concatenate([[open_[k]], is_over[:-1]])
            onsets = idx[is_over & ~prev]
            out[k].extend(float(x) for x in ticks[onsets])
            open_[k] = bool(is_over[-1])
    return out


def learn_day(grid: Grid, d: int, m_all: np.ndarray, full: np.ndarray) -> np.ndarray:
    """The unscaled threshold (k = 1) per minute of day d, learned at its midnight from the
    days before it: the last day's windows reach only up to that midnight."""
    if d == 0:
        return np.full(DAY_MIN, np.nan)
    v = full[:d].copy()
    m = m_all[max(0, d - 2) * DAY_MIN:(d + 1) * DAY_MIN].copy()
    m[-DAY_MIN:] = np.nan
    if d < 2:
        m = np.concatenate([np.full(DAY_MIN, np.nan), m])
    v[d - 1] = windowed(m)[DAY_MIN:2 * DAY_MIN]
    refs = reference_days(grid, d, v)
    return threshold(v[refs], 1.0) if len(refs) else np.full(DAY_MIN, np.nan)
