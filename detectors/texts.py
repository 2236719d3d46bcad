"""Plain words for findings, built from the finding's evidence, from anju's one catalog.

render(kind, state, evidence) -> {"zh-CN": ..., "en": ...}. Every sentence is
made of the evidence's own values, so the words never say more than the data.
The sentences are catalog entries (`finding.*`, `cleared.*`), in both languages.
"""

from __future__ import annotations

from typing import Any

from anju import i18n


def _dur(lang: str, minutes: object) -> str:
    m = int(minutes) if isinstance(minutes, (int, float)) else 0
    return i18n.duration(lang, m * 60)


def _room(lang: str, r: object) -> str:
    if r is None or str(r) in ("other", "", "None"):
        return i18n.text(lang, "where.home")
    return i18n.label(lang, "room", str(r))


def _still(lang: str, e: dict) -> str:
    def t(key: str, **f: Any) -> str:
        return i18n.text(lang, f"finding.{key}", **f)

    room, dur, limit = _room(lang, e.get("last_room")), _dur(lang, e.get("still_min")), \
        _dur(lang, e.get("threshold_min"))
    at = e.get("last_activity")
    s = (t("still_came_home", at=at, dur=dur) if e.get("came_home")
         else t("still", at=at, room=room, dur=dur))
    if e.get("learned") and e.get("asleep_until"):
        s += t("still_in_bed", until=e["asleep_until"])
    elif e.get("learned") and e.get("threshold_room"):
        s += t("still_after_room", room=room, limit=limit)
    elif e.get("learned"):
        s += t("still_usual", limit=limit)
    else:
        s += t("still_learning", limit=limit)
    if "usual_up" in e:
        s += t("still_usual_up", up=e["usual_up"], sd=e.get("usual_up_sd_min"))
    if "last_water" in e:
        s += t("still_last_water", at=e["last_water"])
    return s + t("end")


_ALARMS = ("smoke", "gas", "leak", "button")


def _open(lang: str, kind: str, e: dict) -> str:
    def t(key: str, **f: Any) -> str:
        return i18n.text(lang, f"finding.{key}", **f)

    g = e.get
    if kind == "inactivity":
        return _still(lang, e)
    if kind == "prealarm":
        return t("prealarm", still=_still(lang, e), m=g("minutes"))
    if kind == "not_back":
        if "reason" in e:
            return t("not_back_planned", reason=e["reason"], back=g("expected_back"),
                     grace=g("grace_min"))
        return t("not_back", left=g("left_at"), dur=_dur(lang, g("away_min")),
                 usual=_dur(lang, g("usual_max_min")))
    if kind == "no_water":
        return t("no_water", hours=g("hours"), litres=g("litres"), limit=g("limit_l"),
                 last=g("last_water"))
    if kind == "water_running":
        return t("water_running", since=g("since_time"), dur=_dur(lang, g("running_min")))
    if kind == "power_high":
        return t("power_high", watts=g("watts"), since=g("since_time"),
                 dur=_dur(lang, g("running_min")), usual=_dur(lang, g("usual_max_min")))
    if kind == "power_flat":
        return t("power_flat", hours=g("hours"), last=g("last_switch"))
    if kind == "door_left_open":
        return t("door_left_open", since=g("since_time"), dur=_dur(lang, g("open_min")))
    if kind == "night_wandering":
        return t("night_wandering", at=g("at_time"))
    if kind == "device_offline":
        return t("device_offline", missed=g("missed_heartbeats"), last=g("last_seen"),
                 others=g("others_reporting"))
    if kind == "home_silent":
        return t("home_silent", since=g("since_time"), devices=g("devices"))
    if kind == "battery_low":
        return t("battery_low", pct=g("battery_pct"), limit=g("limit_pct"))
    if kind == "sensor_dead":
        return t("sensor_dead", days=g("days"), last=g("last_trigger"), alive=g("days_with_life"))
    if kind == "activity_decline":
        return t("activity_decline", days=g("days"), mean=g("mean_per_day"),
                 usual=g("usual_per_day"))
    if kind.startswith("routine_"):
        return _routine(lang, kind, e)
    name = i18n.text(lang, f"finding.alarm.{kind}") if kind in _ALARMS else \
        i18n.label(lang, "kind", kind)
    room = _room(lang, g("room"))
    late = g("device_hhmm")
    if late and isinstance(g("late_s"), (int, float)):
        return t("alarm_late", name=name, room=room, at=late, m=int(e["late_s"] // 60))
    return t("alarm", name=name, room=room)


# how a routine feature's value reads: a time of day, a duration (15-min slots or hours), or
# a number as it is
_SLOTS = frozenset({"night_up_slots", "night_away_slots", "kitchen_morning", "kitchen_midday",
                    "kitchen_evening", "kitchen_day", "active_slots", "day_morning", "day_midday",
                    "day_evening"})
_HOURS = frozenset({"hours_bedroom", "hours_kitchen", "hours_living", "hours_bathroom"})


def _value(lang: str, feature: str, v: object) -> str:
    x = float(v) if isinstance(v, (int, float)) else 0.0
    if feature in ("wake_h", "bed_h", "sleep_h"):
        m = int(round(x * 60)) % 1440
        return f"{m // 60:02d}:{m % 60:02d}"
    if feature in _SLOTS:
        return _rdur(lang, round(x) * 15)
    if feature in _HOURS:
        return _rdur(lang, round(x * 4) * 15)
    if feature == "power_kwh" or feature == "intensity":
        return f"{x:.1f}"
    return str(int(round(x)))


def _rdur(lang: str, minutes: object) -> str:
    if not isinstance(minutes, (int, float)) or minutes <= 0:
        return i18n.text(lang, "finding.routine_none")
    return _dur(lang, minutes)


def _routine(lang: str, kind: str, e: dict) -> str:
    def n(key: str) -> object:       # a count the evidence lacks reads as 0, never "None"
        v = e.get(key)
        return v if isinstance(v, (int, float)) else 0

    if kind == "routine_activity":
        parts = []
        for c in e.get("changes") or []:
            f = str(c.get("feature"))
            # to bed before midnight, usually after it
            key = "sleep_h_before" if f == "sleep_h" and not c.get("value") else f
            parts.append(i18n.text(lang, f"finding.routine_change.{key}",
                                   value=_value(lang, f, c.get("value")),
                                   usual=_value(lang, f, c.get("usual"))))
        if not parts:
            return i18n.text(lang, "finding.routine_activity_plain")
        sep = "；" if lang == "zh-CN" else "; "
        days = n("days")
        key = "finding.routine_activity_days" if isinstance(days, int) and days > 1 \
            else "finding.routine_activity"
        return i18n.text(lang, key, changes=sep.join(parts), days=days)
    if kind == "routine_night_toilet":
        return i18n.text(lang, "finding.routine_night_toilet", count=n("count"), usual=n("usual"))
    if kind == "routine_night_out_of_bed":
        return i18n.text(lang, "finding.routine_night_out_of_bed", dur=_rdur(lang, n("minutes")),
                         usual=_rdur(lang, n("usual_min")))
    if kind == "routine_wandering":
        return i18n.text(lang, "finding.routine_wandering", nights=n("nights"),
                         usual=n("usual_per_week"))
    if kind == "routine_meals":
        p = e.get("part")
        part = i18n.text(lang, f"finding.routine_part.{p}" if p in ("morning", "midday", "evening")
                         else "finding.routine_part.any")
        if "meals" in e:        # meal times one after another
            sp = e.get("since_part")
            meal = i18n.text(lang, f"finding.routine_meal.{sp}" if sp in ("morning", "midday",
                                                                            "evening")
                             else "finding.routine_part.any")
            d = n("since_day")
            since = i18n.text(lang, f"finding.routine_meal_day.{d if d in (0, 1, 2) else 2}",
                              meal=meal)
            return i18n.text(lang, "finding.routine_meals_run", n=n("meals"), since=since)
        if "opened" in e:
            return i18n.text(lang, "finding.routine_meals_food", days=n("days"), part=part,
                             usual=n("usual_opened"))
        if not n("signs"):
            return i18n.text(lang, "finding.routine_meals", days=n("days"), part=part)
        return i18n.text(lang, "finding.routine_meals_few", days=n("days"), part=part,
                         n=n("signs"), usual=n("usual_signs"))
    return i18n.text(lang, "finding.routine_shower", days=n("days"), usual=n("usual_max"))


def _cleared(lang: str, e: dict) -> str:
    reason = str(e.get("reason"))
    late = reason == "late_data"     # what ended it happened before the alert, seen late
    if late:
        reason = str(e.get("seen_reason"))
    why = i18n.label(lang, "cleared", reason)
    s = i18n.text(lang, "finding.cleared_late" if late else "finding.cleared", why=why)
    if e.get("room"):
        s += i18n.text(lang, "finding.cleared_room", room=_room(lang, e["room"]))
    if e.get("at_time"):
        s += i18n.text(lang, "finding.cleared_at", at=e["at_time"])
    return s + i18n.text(lang, "finding.end")


def render(kind: str, state: str, evidence: dict) -> dict[str, str]:
    return {lang: (_open(lang, kind, evidence) if state == "open" else _cleared(lang, evidence))
            for lang in i18n.LANGS}
