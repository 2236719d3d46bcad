"""What counts as a sign of life, and whether the resident is at home.

Used alike by the live monitor and by the learner, so that a threshold is
learned from exactly the stillness the monitor measures.

- Activity evidence: PIR motion (1), any change of a contact or bed/chair mat,
  the emergency button, water starting to flow, an electrical load switched on
  (a rise of `power.activity_w` between two readings). PIR "clear" (0),
  heartbeats, meters ticking along and alarms are not.
- The entrance door is kept apart: when the door is the last thing that
  happened (nothing in the home after it, apart from the passage itself in
  the entrance), the resident is taken to have left: "away".
"""

from __future__ import annotations

from detectors.config import DetectorConfig

NONE, ACT, DOOR = 0, 1, 2
HOME, AWAY = 0, 1

_BINARY_ACT = frozenset({"contact", "presence"})

# Where the last sign of life was: in bed (bedroom, bed mat), in the bathroom or toilet, or
# anywhere else in the home. Each has its own learned limit on the stillness that follows.
BED, WET, DAY = 0, 1, 2
GROUPS = ("bed", "wet", "day")
_GROUP = {"bedroom": BED, "bathroom": WET, "toilet": WET}


def room_group(room: str) -> int:
    return _GROUP.get(room, DAY)
_PASSAGE_ROOMS = frozenset({"entrance", "hallway"})


class Meter:
    """The previous reading of one meter (water total or power)."""

    __slots__ = ("t", "v", "flowing", "run_start", "high_start")

    def __init__(self) -> None:
        self.t = 0.0
        self.v = -1.0
        self.flowing = False
        self.run_start = 0.0    # water: when the current continuous flow began
        self.high_start = 0.0   # power: when the current high load began


def classify(kind: str, value: float, t: float, meter: Meter | None, cfg: DetectorConfig) -> int:
    """NONE, ACT or DOOR for one reading; updates the meter's memory."""
    if kind == "motion" or kind == "button":
        return ACT if value >= 1 else NONE
    if kind in _BINARY_ACT:
        return ACT
    if kind == "door":
        return DOOR
    if meter is None:
        return NONE
    if kind == "water":
        prev, pt = meter.v, meter.t
        meter.v, meter.t = value, t
        if prev < 0 or t <= pt:
            return NONE
        litres = value - prev
        lpm = litres * 60.0 / max(60.0, t - pt)
        was = meter.flowing
        meter.flowing = lpm >= cfg.water.flow_lpm
        if meter.flowing and not was:
            meter.run_start = pt
        return ACT if (not was and litres >= cfg.water.activity_l) else NONE
    if kind == "power":
        prev = meter.v
        meter.v, meter.t = value, t
        return ACT if prev >= 0 and value - prev >= cfg.power.activity_w else NONE
    return NONE


class Presence:
    """Last sign of life, last entrance-door event, and from them home or away."""

    __slots__ = ("last_act", "last_room", "last_device", "last_door", "grace")

    def __init__(self, cfg: DetectorConfig) -> None:
        self.last_act: float | None = None
        self.last_room = ""
        self.last_device = ""
        self.last_door: float | None = None
        self.grace = cfg.away.door_grace_s

    def act(self, t: float, room: str, device: str) -> bool:
        """An activity at t; False when it is only the passage through the entrance."""
        d = self.last_door
        if (d is not None and room in _PASSAGE_ROOMS and t - d < self.grace
                and (self.last_act is None or self.last_act <= d)):
            return False
        if self.last_act is None or t >= self.last_act:
            self.last_act, self.last_room, self.last_device = t, room, device
        return True

    def door(self, t: float) -> None:
        if self.last_door is None or t >= self.last_door:
            self.last_door = t

    def context(self) -> int:
        d = self.last_door
        if d is not None and (self.last_act is None or d >= self.last_act):
            return AWAY
        return HOME

    def reference(self) -> float | None:
        """When the current stillness (home) or absence (away) began."""
        return self.last_door if self.context() == AWAY else self.last_act
