"""Detector settings: defaults that work, per-community and per-home overrides, validated.

A setting is named `section.key` ("inactivity.floor_min"). Settings come as
nested dicts ({"inactivity": {"floor_min": 90}}) or dotted keys
({"inactivity.floor_min": 90}); `merge(community, home)` lays the home's over
the community's over the defaults. A bad setting raises ConfigError naming
the key, the value and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

# Every finding kind the monitor can raise; `enabled` selects among them.
DETECTORS: tuple[str, ...] = (
    "inactivity", "not_back", "no_water", "water_running", "power_high", "power_flat",
    "door_left_open", "night_wandering", "device_offline", "home_silent", "battery_low",
    "sensor_dead", "activity_decline", "smoke", "gas", "leak", "button",
)


class ConfigError(ValueError):
    """A setting is refused: carries the key, the value and what is allowed."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r}: expected {allowed}")


def _num(lo: float, hi: float, unit: str = "", integer: bool = False) -> dict[str, Any]:
    return {"lo": lo, "hi": hi, "unit": unit, "integer": integer}


@dataclass(frozen=True)
class Inactivity:
    floor_min: int = 90          # a learned threshold is never below this
    cap_min: int = 720           # ... nor above this
    default_min: int = 720       # before `min_days` of history: a fixed window (field practice)
    min_days: int = 7            # days of history before thresholds are learned
    learn_days: int = 30         # how far back the learner looks
    margin: float = 0.4          # threshold = longest usual stillness x (1 + margin) + slack
    slack_min: int = 60
    window_min: int = 60         # "usual stillness at this time" looks this far either side
    outlier_iqr: float = 3.0     # a room's limit: a day's stillness beyond Q3 + this x IQR of
                                 # the days' is an outlier, not the usual (0: the longest seen)
    room_days: int = 7           # a room's own limit needs stillness seen after activity there at
                                 # this time of day on this many days (0: time of day only)


@dataclass(frozen=True)
class Away:
    door_grace_s: int = 90       # entrance activity this soon after the door is the passage itself
    confirm_min: int = 10        # silence this long after the door confirms that the resident left
    floor_min: int = 240         # "not back" never sooner than this after leaving
    cap_min: int = 1440
    explicit_grace_min: int = 120   # after an explicit away's end, not back by then -> not_back


@dataclass(frozen=True)
class Water:
    low_litres: float = 10.0     # under this ...
    low_hours: int = 12          # ... in this many hours at home -> no_water
    running_min: int = 30        # continuous flow this long -> water_running
    flow_lpm: float = 0.5        # a minute with at least this flow counts as flowing
    activity_l: float = 0.3      # flow starting with at least this much is activity evidence


@dataclass(frozen=True)
class Power:
    activity_w: float = 200.0    # a rise of this much within a reading is someone switching on
    high_w: float = 800.0        # above the home's base load by this much is a "high load"
    high_floor_min: int = 60     # a high load is never normal for longer than this floor ...
    high_factor: float = 1.5     # ... or this times the longest high load seen in history
    flat_hours: int = 24         # no switching-on at all for this long -> power_flat


@dataclass(frozen=True)
class Doors:
    open_min: int = 15           # entrance door open this long -> door_left_open
    night_from: int = 23         # local hour: entrance door opened from ...
    night_to: int = 5            # ... until this hour -> night_wandering


@dataclass(frozen=True)
class Devices:
    missed_heartbeats: int = 3
    silent_min: int = 30         # every device of the home silent this long -> home_silent
    battery_pct: float = 15.0
    dead_days: int = 3           # a PIR silent through this many days of life at home: dead


@dataclass(frozen=True)
class Decline:
    days: int = 2                # mean activity of the last `days` days at home ...
    fraction: float = 0.65       # ... below this fraction of the usual -> activity_decline


@dataclass(frozen=True)
class PreAlarm:
    minutes: int = 0             # 0: off; else inactivity waits this long for the resident's button


@dataclass(frozen=True)
class DetectorConfig:
    sensitivity: float = 1.0     # >1: earlier alerts, more false ones; <1: later, fewer
    enabled: frozenset[str] = field(default_factory=lambda: frozenset(DETECTORS))
    inactivity: Inactivity = field(default_factory=Inactivity)
    away: Away = field(default_factory=Away)
    water: Water = field(default_factory=Water)
    power: Power = field(default_factory=Power)
    doors: Doors = field(default_factory=Doors)
    devices: Devices = field(default_factory=Devices)
    decline: Decline = field(default_factory=Decline)
    prealarm: PreAlarm = field(default_factory=PreAlarm)

    def on(self, kind: str) -> bool:
        return kind in self.enabled

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sensitivity": self.sensitivity, "enabled": sorted(self.enabled)}
        for name in _SECTIONS:
            sec = getattr(self, name)
            out[name] = {f.name: getattr(sec, f.name) for f in fields(sec)}
        return out


_SECTIONS: dict[str, type] = {"inactivity": Inactivity, "away": Away, "water": Water,
                              "power": Power, "doors": Doors, "devices": Devices,
                              "decline": Decline, "prealarm": PreAlarm}

# allowed ranges: "section.key" -> bounds
_RANGES: dict[str, dict[str, Any]] = {
    "sensitivity": _num(0.25, 4.0),
    "inactivity.floor_min": _num(30, 720, "minutes", True),
    "inactivity.cap_min": _num(60, 1440, "minutes", True),
    "inactivity.default_min": _num(60, 1440, "minutes", True),
    "inactivity.min_days": _num(3, 60, "days", True),
    "inactivity.learn_days": _num(7, 120, "days", True),
    "inactivity.margin": _num(0.0, 3.0),
    "inactivity.slack_min": _num(0, 240, "minutes", True),
    "inactivity.window_min": _num(0, 180, "minutes", True),
    "inactivity.outlier_iqr": _num(0.0, 10.0),
    "inactivity.room_days": _num(0, 60, "days (0 = off)", True),
    "away.door_grace_s": _num(0, 600, "seconds", True),
    "away.confirm_min": _num(1, 120, "minutes", True),
    "away.floor_min": _num(30, 1440, "minutes", True),
    "away.cap_min": _num(60, 2880, "minutes", True),
    "away.explicit_grace_min": _num(0, 1440, "minutes", True),
    "water.low_litres": _num(0.5, 200, "litres"),
    "water.low_hours": _num(2, 48, "hours", True),
    "water.running_min": _num(5, 240, "minutes", True),
    "water.flow_lpm": _num(0.05, 20, "litres per minute"),
    "water.activity_l": _num(0.05, 20, "litres"),
    "power.activity_w": _num(20, 5000, "W"),
    "power.high_w": _num(100, 10000, "W"),
    "power.high_floor_min": _num(10, 600, "minutes", True),
    "power.high_factor": _num(1.0, 10.0),
    "power.flat_hours": _num(6, 96, "hours", True),
    "doors.open_min": _num(1, 240, "minutes", True),
    "doors.night_from": _num(0, 23, "hour of the day", True),
    "doors.night_to": _num(0, 23, "hour of the day", True),
    "devices.missed_heartbeats": _num(2, 20, "heartbeats", True),
    "devices.silent_min": _num(5, 240, "minutes", True),
    "devices.battery_pct": _num(1, 50, "per cent"),
    "devices.dead_days": _num(1, 30, "days", True),
    "decline.days": _num(2, 14, "days", True),
    "decline.fraction": _num(0.05, 0.95),
    "prealarm.minutes": _num(0, 30, "minutes (0 = off)", True),
}


def _check(key: str, value: object) -> float | int:
    r = _RANGES[key]
    unit = f" {r['unit']}" if r["unit"] else ""
    allowed = f"{r['lo']:g}..{r['hi']:g}{unit}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(key, value, f"a number {allowed}")
    if r["integer"] and not float(value).is_integer():
        raise ConfigError(key, value, f"a whole number {allowed}")
    if not r["lo"] <= value <= r["hi"] or value != value:
        raise ConfigError(key, value, allowed)
    return int(value) if r["integer"] else float(value)


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            if prefix or k not in _SECTIONS:
                raise ConfigError(key, v, f"a setting; sections are {', '.join(_SECTIONS)}")
            out.update(_flatten(v, key + "."))
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
    flat = _flatten(d)
    top: dict[str, Any] = {}
    secs: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        if key == "enabled" or key == "disabled":
            if isinstance(value, str):
                value = [x.strip() for x in value.split(",") if x.strip()]
            if not isinstance(value, (list, tuple, set, frozenset)) or any(
                    not isinstance(x, str) or x not in DETECTORS for x in value):
                raise ConfigError(key, value, f"a list of detectors from: {', '.join(DETECTORS)}")
            top[key] = frozenset(value)
            continue
        if key not in _RANGES:
            known = ", ".join(sorted(_RANGES) + ["enabled", "disabled"])
            raise ConfigError(key, value, f"a known setting ({known})")
        v = _check(key, value)
        if "." in key:
            sec, name = key.split(".", 1)
            secs.setdefault(sec, {})[name] = v
        else:
            top[key] = v
    changes: dict[str, Any] = {}
    if "sensitivity" in top:
        changes["sensitivity"] = top["sensitivity"]
    enabled = top.get("enabled", cfg.enabled)
    if "disabled" in top:
        enabled = enabled - top["disabled"]
    changes["enabled"] = frozenset(enabled)
    for sec, vals in secs.items():
        changes[sec] = replace(getattr(cfg, sec), **vals)
    out = replace(cfg, **changes)
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
