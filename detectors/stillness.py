"""When the running stillness (at home) or absence (away) becomes alarming.

Shared by the inactivity and away rules: both watch the time since the
reference (the last sign of life at home, or the opening that began the
absence) against the learned thresholds. The answer is cached in
`HomeState.still_cache` until the reference, the context or the last room
changes (or the state says otherwise: learning, an away period set).
"""

from __future__ import annotations

from array import array

from detectors.activity import BED, HOME, room_group
from detectors.clock import SLOT_S, SLOTS
from detectors.state import NEVER, HomeState, StillCache


def still(s: HomeState) -> tuple[int, float, float] | None:
    """(context, reference, deadline) of the stillness / absence alarm.

    At home the deadline is the earlier of: the first moment the running stillness exceeds
    the time-of-day threshold of the slot it is in; and the last activity plus the limit
    learned for stillness after activity in that room group at that time of day."""
    p = s.pres
    ref = p.reference()
    if ref is None:
        return None
    ctx = p.context()
    c = s.still_cache
    if c is not None and c.ref == ref and c.ctx == ctx and c.room == p.last_room:
        return ctx, ref, c.deadline
    dl = time_of_day_deadline(s, s.base.home_thr if ctx == HOME else s.base.away_thr, ref)
    basis = 0
    if ctx == HOME:
        basis = room_limit(s, ref)
        if basis and ref + basis * 60 < dl:
            dl = ref + basis * 60
        else:
            basis = 0
        up = asleep_until(s, ref)
        if up is not None and dl < up:
            dl, basis = up, -1
    s.still_cache = StillCache(ref, ctx, basis, dl, p.last_room)
    return ctx, ref, dl


def time_of_day_deadline(s: HomeState, arr: array, ref: float) -> float:
    """The first moment a stillness begun at `ref` exceeds the threshold (`arr`, minutes
    per slot, weekdays then weekends) of the slot it is in. This runs for every new last
    activity in every home."""
    # (compared as bytes: min() and max() of an array take longer than the walk they save)
    if arr and arr.tobytes() == arr[:1].tobytes() * len(arr):
        return ref + arr[0] * 60   # one threshold all day (the defaults): no slots to walk
    # Slot by slot: the local day (and with it the weekday and its half of the thresholds)
    # is looked up only when a slot runs past midnight.
    clock = s.clock
    last = SLOTS - 1
    t, lo, hi, i, off = ref, 0.0, 0.0, 0, 0
    for _ in range(4 * SLOTS):
        if t >= hi:
            lo = clock.day(t)
            hi = clock.hi
            off = SLOTS if clock.weekday >= 5 else 0
            i = min(last, int((t - lo) // SLOT_S))
        end = lo + (i + 1) * SLOT_S if i < last else hi
        d = ref + arr[i + off] * 60
        if d < end:
            return max(t, d)
        t = end
        i += 1
    return NEVER


def asleep_until(s: HomeState, ref: float) -> float | None:
    """Last activity in bed during this home's night (earliest bedtime .. latest getting-up
    seen): sleep, not alarming before the latest getting-up time plus the slack (and never
    later than the cap)."""
    b = s.base
    if b.sleep_from < 0 or room_group(s.pres.last_room) != BED:
        return None
    clock = s.clock
    day = clock.day(ref)
    m = (ref - day) / 60
    ic = s.cfg.inactivity
    # the less regular the getting-up, the longer a night may run past the latest one seen
    slack = max(ic.slack_min, 2 * b.wake_sd) / s.cfg.sensitivity
    # the night seen, widened by the slack at both ends
    lo, hi = (b.sleep_from - slack - 720) % 1440, (b.sleep_to - 720) % 1440
    if not lo <= (m - 720) % 1440 < hi:
        return None
    up = day + b.sleep_to * 60
    if up <= ref:
        up = clock.hi + b.sleep_to * 60     # (a DST day is an hour off; harmless here)
    return min(up + slack * 60, ref + ic.cap_min * 60)


def room_limit(s: HomeState, ref: float) -> int:
    """The learned limit (minutes) on stillness after activity in the last activity's room
    group at the time of day it happened; 0 when not learned."""
    rt = s.base.room_thr
    if not rt:
        return 0
    i = s.clock.slot(ref) % SLOTS
    return rt[room_group(s.pres.last_room) * SLOTS + i]


def recheck_later(s: HomeState, t: float) -> None:
    """Under an explicit away, a stillness or absence is not raised: look again when the
    away period ends (never, when it has no end or began after the last activity)."""
    e = s.explicit
    assert e is not None
    p = s.pres
    again = e.end if e.end is not None and e.end > t and e.start < (p.last_act or 0) else NEVER
    s.still_cache = StillCache(p.reference() or t, p.context(), 0, again, p.last_room)
