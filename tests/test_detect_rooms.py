"""Stillness limits per room of the last activity, and the night in bed."""

from __future__ import annotations

from detectors.activity import DAY
from detectors.events import Event
from detectors.stillness import still
from tests.detector_support import D, H, M, T0, mon, opened, run


def mv(t: float, dev: str, room: str) -> Event:
    return Event(t, dev, "motion", 1, room)


def day_of(day: float, missed_return: bool = False) -> list[Event]:
    """Up 07:00; bathroom; living room all day; dinner in the kitchen 18:00-19:30; reading in
    the living room without a trigger 19:40-21:50; bathroom, bed at 22:00; toilet at 03:00."""
    out = [mv(day + 3 * H, "bath", "bathroom")]
    if not missed_return:
        out.append(mv(day + 3 * H + 5 * M, "bed", "bedroom"))
    out.append(mv(day + 7 * H, "bed", "bedroom"))
    out += [mv(day + 7 * H + k * 5 * M, "bath", "bathroom") for k in range(1, 12)]
    out += [mv(t, "liv", "living_room") for t in range(int(day + 8 * H), int(day + 18 * H), 600)]
    out += [mv(t, "kit", "kitchen") for t in range(int(day + 18 * H), int(day + 19.5 * H) + 1, 300)]
    out.append(mv(day + 19 * H + 40 * M, "liv", "living_room"))
    out += [mv(day + 21 * H + 50 * M, "bath", "bathroom"), mv(day + 21 * H + 55 * M, "bath", "bathroom")]
    out.append(mv(day + 22 * H, "bed", "bedroom"))
    return out


def learned(days: int = 10, missed: frozenset[int] = frozenset(), **settings: object):
    hist = [e for d in range(days) for e in day_of(T0 + d * D, d in missed)]
    m = mon(**settings)
    now = T0 + days * D
    m.learn(hist, now)
    return m, now


def until(now: float, t: float, **kw: bool) -> list[Event]:
    return [e for e in day_of(now, **kw) if e.ts <= t]


def test_evening_collapse_in_the_kitchen_is_found_within_the_kitchen_limit():
    """After dinner the resident moves on and reads for at most 2 h 10 min: stillness after the
    kitchen at 19:30 has the limit learned for stillness after activity outside bed and bath
    (fifteen days seen: the limit as set, not widened)."""
    m, now = learned(16)
    assert m.base.learned
    fs = run(m, until(now, now + 19.5 * H), now + D)
    f = opened(fs, "inactivity")
    assert len(f) == 1 and f[0].evidence["last_room"] == "kitchen"
    # "elsewhere in the home" includes the living room, where the resident reads up to 2 h 10 min
    assert f[0].evidence["threshold_room"] == "day" and f[0].severity == "critical"
    ic = m.cfg.inactivity
    limit = 130 * (1 + ic.margin) + ic.slack_min           # the 2 h 10 min seen, plus margins
    assert f[0].evidence["threshold_min"] <= limit + 5
    assert f[0].at - (now + 19.5 * H) <= (limit + 5) * M
    assert "after activity in the kitchen" in f[0].text["en"] and "厨房活动之后" in f[0].text["zh-CN"]
    at = f[0].at
    # by the time of day alone (room limits off) it is not found sooner
    m, now = learned(16, **{"inactivity.room_days": 0})
    assert not m.base.room_thr.count(0) < len(m.base.room_thr)
    f = opened(run(m, until(now, now + 19.5 * H), now + 2 * D), "inactivity")
    assert f and f[0].at > at and "threshold_room" not in f[0].evidence


def test_bathroom_stillness_is_found_sooner_than_the_same_stillness_in_bed():
    """21:55 in the bathroom, then nothing: found within 2 h. 22:00 in the bedroom, then nothing
    all night: sleep, no alarm before the usual getting-up time."""
    m, now = learned()
    f = opened(run(m, until(now, now + 21 * H + 55 * M), now + D), "inactivity")
    assert len(f) == 1 and f[0].evidence["last_room"] == "bathroom"
    assert f[0].at - (now + 21 * H + 55 * M) <= 2 * H
    m, now = learned()
    assert m.base.sleep_to >= 0 and m.base.sleep_from >= 0
    f = opened(run(m, until(now, now + 22 * H), now + 2 * D), "inactivity")
    assert len(f) == 1
    assert f[0].at >= now + D + 7 * H                  # not before the usual getting-up time
    assert f[0].at - (now + 22 * H) <= 12 * H
    assert f[0].evidence["asleep_until"] == "07:00"
    assert "usually up by 07:00 at the latest" in f[0].text["en"]


def test_night_toilet_collapse_is_found_but_not_a_missed_return_to_bed_seen_before():
    """The 03:00 toilet visit is followed by the bedroom within minutes: a fall there is found
    within 2 h. A home whose bedroom PIR sometimes misses the return to bed learns that."""
    m, now = learned()
    night = [e for e in day_of(now - D) if e.ts >= now] + \
        [e for e in day_of(now) if e.ts <= now + 3 * H]
    f = opened(run(m, [e for e in night if e.ts >= now], now + 12 * H), "inactivity")
    assert len(f) == 1 and f[0].evidence["last_room"] == "bathroom"
    assert f[0].at - (now + 3 * H) <= 2 * H
    m, now = learned(missed=frozenset({1, 4, 8}))
    fs = run(m, day_of(now, missed_return=True), now + D)
    assert opened(fs, "inactivity") == []


def _kitchen_limit(m) -> int:
    """The limit on stillness after activity outside bed and bath, begun at 19:30."""
    return m.base.room_thr[DAY * 96 + int(19.5 * 4)]


def test_a_room_limit_seen_on_few_days_is_wider_until_twice_room_days_saw_it():
    """Ten days of history give nine full days seen (room_days 7): margin and slack scaled by
    14 / 9; sixteen days give fifteen: as set."""
    ic = mon().cfg.inactivity
    few, _ = learned(10)
    many, _ = learned(16)
    assert few.base.days == 9 and many.base.days == 15
    assert _kitchen_limit(many) == int(130 * (1 + ic.margin) + ic.slack_min)
    assert _kitchen_limit(few) == int(130 * (1 + ic.margin * 14 / 9) + ic.slack_min * 14 / 9)


def test_one_day_unlike_the_others_does_not_set_a_room_limit():
    """One evening of 6 h in the armchair after dinner in 14 days: the kitchen limit stays near
    the usual 2 h 10 min; with outlier_iqr 0 the longest day sets it (and caps it)."""
    def hist(days: int) -> list[Event]:
        out = []
        for d in range(days):
            evs = day_of(T0 + d * D)
            if d == 5:   # dinner ends 19:30, nothing again until bed at 01:30
                evs = [e for e in evs if not (T0 + d * D + 19.6 * H < e.ts <= T0 + d * D + 22 * H)]
                evs.append(mv(T0 + d * D + 25.5 * H, "bed", "bedroom"))
                evs.sort(key=lambda e: e.ts)
            out += evs
        return out
    now = T0 + 14 * D
    m = mon()
    m.learn(hist(14), now)
    ic = m.cfg.inactivity
    assert _kitchen_limit(m) <= int(130 * (1 + ic.margin) + ic.slack_min) + 15
    m0 = mon(**{"inactivity.outlier_iqr": 0})
    m0.learn(hist(14), now)
    assert _kitchen_limit(m0) >= int(360 * (1 + ic.margin) + ic.slack_min) or \
        _kitchen_limit(m0) == ic.cap_min


def test_room_limits_are_compact_and_deterministic():
    m1, now = learned()
    m2, _ = learned()
    assert m1.base.room_thr == m2.base.room_thr and len(m1.base.room_thr) == 4 * 96
    assert m1.base.room_thr.itemsize == 2
    assert still(m1.state) == still(m2.state)


def test_an_irregular_sleeper_may_sleep_longer_past_the_latest_getting_up_seen():
    """Getting up anywhere between 05:00 and 08:00: a night in bed is not alarming before the
    latest getting-up seen plus twice the spread of getting-up times (more than the fixed
    slack a regular sleeper gets)."""
    hist = []
    for d in range(12):
        day = T0 + d * D
        up = day + 5 * H + (d % 4) * H
        hist.append(mv(up, "bed", "bedroom"))
        hist += [mv(t, "liv", "living_room") for t in range(int(up + 10 * M), int(day + 23 * H), 600)]
        hist.append(mv(day + 23 * H, "bed", "bedroom"))
    m = mon()
    now = T0 + 12 * D
    m.learn(hist, now)
    b = m.base
    assert b.sleep_to == 8 * 60 and b.wake_sd > 40
    slack = max(m.cfg.inactivity.slack_min, 2 * b.wake_sd)
    assert slack > m.cfg.inactivity.slack_min
    # the night that began at 23:00 yesterday, and nobody gets up
    f = opened(m.advance(now + 14 * H), "inactivity")
    assert len(f) == 1 and f[0].evidence["asleep_until"] == "08:00"
    assert f[0].at == now + 8 * H + slack * M


def test_a_restless_sleepers_night_is_learned_from_stillness_of_two_hours():
    """Up to the toilet at 00:30, 03:00 and 05:00 every night (back to bed seen), up at 07:30:
    no stillness of 3 h ends a night, the last one of the morning lasts 2 h 25 min. The night is
    still learned, so a still morning in bed is sleep until the usual getting-up."""
    def night(day: float) -> list[Event]:
        out = [mv(day - 2 * H, "bed", "bedroom")]
        for h in (0.5, 3, 5):
            out += [mv(day + h * H, "bath", "bathroom"), mv(day + h * H + 5 * M, "bed", "bedroom")]
        out.append(mv(day + 7.5 * H, "bed", "bedroom"))
        out += [mv(t, "liv", "living_room") for t in range(int(day + 8 * H), int(day + 21.5 * H), 600)]
        return out
    hist = [e for d in range(1, 11) for e in night(T0 + d * D)]
    m = mon()
    now = T0 + 11 * D
    m.learn([e for e in hist if e.ts < now], now)
    assert m.base.learned
    assert abs(m.base.wake_mean - 450) <= 5 and m.base.sleep_to >= 450 and m.base.sleep_from >= 0
