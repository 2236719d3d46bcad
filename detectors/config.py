"""Detector settings: defaults that work, per-community and per-home overrides, validated.

A setting is named `section.key` ("inactivity.floor_min"). Settings come as
nested dicts ({"inactivity": {"floor_min": 90}}) or dotted keys
({"inactivity.floor_min": 90}); `merge(community, home)` lays the home's over
the community's over the defaults. A bad setting raises ConfigError naming
the key, the value and what is allowed.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from anju.typed_config import Reason, Refused, convert

# Every finding kind the monitor can raise; `enabled` selects among them.
Detector = Literal[
    "inactivity", "not_back", "no_water", "water_running", "power_high", "power_flat",
    "door_left_open", "night_wandering", "device_offline", "home_silent", "battery_low",
    "sensor_dead", "activity_decline", "smoke", "gas", "leak", "button",
    "routine_activity", "routine_night_toilet", "routine_night_out_of_bed", "routine_wandering",
    "routine_meals", "routine_shower",
]
DETECTORS: tuple[str, ...] = typing.get_args(Detector)


class ConfigError(ValueError):
    """A setting is refused: carries the key, the value and what is allowed."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r}: expected {allowed}")


def _within(lo: float, hi: float, unit: str = "") -> Meta:
    return Meta(ge=lo, le=hi, extra={"unit": unit})


MINUTES, DAYS, HOURS = "minutes", "days", "hours"


class Inactivity(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    # a learned threshold is never below this ... nor above this
    floor_min: Annotated[int, _within(30, 720, MINUTES)] = 90
    cap_min: Annotated[int, _within(60, 1440, MINUTES)] = 720
    # before `min_days` of history: a fixed window (field practice)
    default_min: Annotated[int, _within(60, 1440, MINUTES)] = 720
    # days of history before thresholds are learned
    min_days: Annotated[int, _within(3, 60, DAYS)] = 7
    # how far back the learner looks
    learn_days: Annotated[int, _within(7, 120, DAYS)] = 30
    # threshold = longest usual stillness x (1 + margin) + slack
    margin: Annotated[float, _within(0.0, 3.0)] = 0.4
    slack_min: Annotated[int, _within(0, 240, MINUTES)] = 60
    # "usual stillness at this time" looks this far either side
    window_min: Annotated[int, _within(0, 180, MINUTES)] = 60
    # a room's limit: a day's stillness beyond Q3 + this x IQR of the days' is an outlier,
    # not the usual (0: the longest seen)
    outlier_iqr: Annotated[float, _within(0.0, 10.0)] = 3.0
    # a room's own limit needs stillness seen after activity there at this time of day on
    # this many days (0: time of day only)
    room_days: Annotated[int, _within(0, 60, "days (0 = off)")] = 7


class Away(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    # entrance activity this soon after the door is the passage itself
    door_grace_s: Annotated[int, _within(0, 600, "seconds")] = 90
    # silence this long after the door confirms that the resident left
    confirm_min: Annotated[int, _within(1, 120, MINUTES)] = 10
    # "not back" never sooner than this after leaving
    floor_min: Annotated[int, _within(30, 1440, MINUTES)] = 240
    cap_min: Annotated[int, _within(60, 2880, MINUTES)] = 1440
    # after an explicit away's end, not back by then -> not_back
    explicit_grace_min: Annotated[int, _within(0, 1440, MINUTES)] = 120


class Water(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    # under this ... in this many hours at home -> no_water
    low_litres: Annotated[float, _within(0.5, 200, "litres")] = 10.0
    low_hours: Annotated[int, _within(2, 48, HOURS)] = 12
    # continuous flow this long -> water_running
    running_min: Annotated[int, _within(5, 240, MINUTES)] = 30
    # a minute with at least this flow counts as flowing
    flow_lpm: Annotated[float, _within(0.05, 20, "litres per minute")] = 0.5
    # flow starting with at least this much is activity evidence
    activity_l: Annotated[float, _within(0.05, 20, "litres")] = 0.3


class Power(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    # a rise of this much within a reading is someone switching on
    activity_w: Annotated[float, _within(20, 5000, "W")] = 200.0
    # above the home's base load by this much is a "high load"
    high_w: Annotated[float, _within(100, 10000, "W")] = 800.0
    # a high load is never normal for longer than this floor ...
    high_floor_min: Annotated[int, _within(10, 600, MINUTES)] = 60
    # ... or this times the longest high load seen in history
    high_factor: Annotated[float, _within(1.0, 10.0)] = 1.5
    # no switching-on at all for this long -> power_flat
    flat_hours: Annotated[int, _within(6, 96, HOURS)] = 24


class Doors(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    # entrance door open this long -> door_left_open
    open_min: Annotated[int, _within(1, 240, MINUTES)] = 15
    # local hour: entrance door opened from ... until this hour -> night_wandering
    night_from: Annotated[int, _within(0, 23, "hour of the day")] = 23
    night_to: Annotated[int, _within(0, 23, "hour of the day")] = 5


class Devices(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    missed_heartbeats: Annotated[int, _within(2, 20, "heartbeats")] = 3
    # every device of the home silent this long -> home_silent
    silent_min: Annotated[int, _within(5, 240, MINUTES)] = 30
    battery_pct: Annotated[float, _within(1, 50, "per cent")] = 15.0
    # a PIR silent through this many days of life at home: dead
    dead_days: Annotated[int, _within(1, 30, DAYS)] = 3


class Decline(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    # mean activity of the last `days` days at home below this fraction of the usual
    # -> activity_decline
    days: Annotated[int, _within(2, 14, DAYS)] = 2
    fraction: Annotated[float, _within(0.05, 0.95)] = 0.65


class Routine(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The routine rule's limits (detectors/rules/routine.py; docs/detectors.md "Routines").
    Scores are in units of the home's own spread, so one limit suits homes of every kind."""
    # days learned before any routine finding
    min_days: Annotated[int, _within(5, 28, DAYS)] = 7
    # routine_activity: a day's score (or two days' mean) opening it
    day_score: Annotated[float, _within(1.5, 10.0)] = 2.75
    # ... a smaller change that persists: the CUSUM of the last two weeks' scores
    drift_score: Annotated[float, _within(2.0, 20.0)] = 5.0
    # ... the last 7 days' medians against the weeks before
    week_score: Annotated[float, _within(2.0, 20.0)] = 4.0
    # routine_night_toilet: visits 00:00-05:00 this many above the usual
    night_toilet_more: Annotated[int, _within(1, 10, "visits")] = 3
    # routine_night_out_of_bed: this long up outside the bedroom beyond the usual
    night_up_more_min: Annotated[int, _within(30, 480, MINUTES)] = 120
    # routine_wandering: at least this many of the last 7 nights (and well above the usual)
    wander_nights: Annotated[int, _within(2, 7, "nights")] = 3
    # routine_shower: no shower for at least this many days (and 3 past the longest gap)
    shower_days: Annotated[int, _within(3, 30, DAYS)] = 6


class PreAlarm(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    # 0: off; else inactivity waits this long for the resident's button
    minutes: Annotated[int, _within(0, 30, "minutes (0 = off)")] = 0


_DETECTOR_LIST = Meta(extra={"expected": f"a list of detectors from: {', '.join(DETECTORS)}"})


class DetectorConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # >1: earlier alerts, more false ones; <1: later, fewer
    sensitivity: Annotated[float, _within(0.25, 4.0)] = 1.0
    enabled: Annotated[frozenset[Detector], _DETECTOR_LIST] = frozenset(DETECTORS)
    inactivity: Inactivity = msgspec.field(default_factory=Inactivity)
    away: Away = msgspec.field(default_factory=Away)
    water: Water = msgspec.field(default_factory=Water)
    power: Power = msgspec.field(default_factory=Power)
    doors: Doors = msgspec.field(default_factory=Doors)
    devices: Devices = msgspec.field(default_factory=Devices)
    decline: Decline = msgspec.field(default_factory=Decline)
    prealarm: PreAlarm = msgspec.field(default_factory=PreAlarm)
    routine: Routine = msgspec.field(default_factory=Routine)

    def on(self, kind: str) -> bool:
        return kind in self.enabled

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = msgspec.to_builtins(self)
        out["enabled"] = sorted(self.enabled)
        return out


class _Given(DetectorConfig, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Settings as given: `disabled` is taken out of `enabled`."""
    disabled: Annotated[frozenset[Detector], _DETECTOR_LIST] = frozenset()


_SECTIONS: tuple[str, ...] = tuple(
    f.name for f in msgspec.structs.fields(DetectorConfig)
    if isinstance(f.type, type) and issubclass(f.type, msgspec.Struct))
# "section.key" -> its type (int or float), for every numeric setting
_NUMBERS: dict[str, type] = {"sensitivity": float} | {
    f"{sec}.{f.name}": typing.get_args(f.type)[0] for sec in _SECTIONS
    for f in msgspec.structs.fields(getattr(DetectorConfig(), sec))}
_KNOWN = ", ".join(sorted(_NUMBERS) + ["enabled", "disabled"])


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            if prefix or k not in _SECTIONS:
                raise ConfigError(key, v, f"a setting; sections are {', '.join(_SECTIONS)}")
            out.update(_flatten(v, key + "."))
        elif _NUMBERS.get(key) is int and isinstance(v, float) and v.is_integer():
            out[key] = int(v)       # 120.0 minutes is 120 minutes
        elif key in ("enabled", "disabled") and isinstance(v, str):
            out[key] = [x.strip() for x in v.split(",") if x.strip()]
        elif isinstance(v, (set, frozenset)):
            out[key] = sorted(v, key=str)
        else:
            out[key] = v
    return out


def from_dict(d: dict[str, Any] | None, base: DetectorConfig | None = None) -> DetectorConfig:
    """Settings (nested or dotted keys) laid over `base` (default: the defaults)."""
    cfg = base or DetectorConfig()
    if not d:
        return cfg
    if not isinstance(d, dict):
        raise ConfigError("detectors", d, "a table of settings")
    data = cfg.to_dict()
    for key, value in _flatten(d).items():
        sec, dot, name = key.partition(".")
        if dot and sec in _SECTIONS:
            data[sec][name] = value
        else:
            data[key] = value
    try:
        given = convert(data, _Given)
    except Refused as e:
        if e.reason is Reason.UNKNOWN or e.key in _SECTIONS:
            raise ConfigError(e.key, e.value, f"a known setting ({_KNOWN})") from None
        raise ConfigError(e.key, e.value, e.allowed) from None
    fields = msgspec.structs.asdict(given)
    disabled = fields.pop("disabled")
    out = DetectorConfig(**{**fields, "enabled": given.enabled - disabled})
    _cross_check(out)
    return out


def _cross_check(c: DetectorConfig) -> None:
    i = c.inactivity
    if i.floor_min > i.cap_min:
        raise ConfigError("inactivity.floor_min", i.floor_min,
                          f"at most inactivity.cap_min ({i.cap_min}) minutes")
    if c.away.floor_min > c.away.cap_min:
        raise ConfigError("away.floor_min", c.away.floor_min,
                          f"at most away.cap_min ({c.away.cap_min}) minutes")
    if c.doors.night_from == c.doors.night_to:
        raise ConfigError("doors.night_to", c.doors.night_to,
                          f"an hour other than doors.night_from ({c.doors.night_from})")


def merge(community: dict[str, Any] | None, home: dict[str, Any] | None) -> DetectorConfig:
    """Defaults, then the community's settings, then the home's."""
    return from_dict(home, from_dict(community))
