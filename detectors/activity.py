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

# Where the last sign of life was: in bed (bedroom, bed mat), in the bathroom or toilet, at the
# entrance (mostly: just came home), or anywhere else in the home. Each has its own learned
# limit on the stillness that follows: after coming home people often sit down where no
# sensor sees them, which says nothing about how still they are after cooking.
BED, WET, DAY, ENTRY = 0, 1, 2, 3
GROUPS = ("bed", "wet", "day", "entry")
_GROUP = {"bedroom": BED, "bathroom": WET, "toilet": WET, "entrance": ENTRY, "hallway": ENTRY}


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


# what an entrance-door opening meant (Presence.door); PASSAGE: the door opened again while
# the resident was coming in, part of the return already counted
LEFT, BACK, PASSAGE = 1, 2, 3
# Seconds after coming in within which the entrance door opening again is the same passage: a
# reed contact bounces within a second or two, and a door pushed shut twice within several.
# Coming in and going out again takes longer (about a minute in van Kasteren house B), and
# is a departure.
REOPEN_S = 20


class Presence:
    """Last sign of life, the entrance door, and from them: is the resident at home?

    Away is inferred from the door and the silence that follows it:

    - an opening of the entrance door while at home begins a possible absence;
    - signs of life in the home end it (nobody left: a visitor, the post; or the resident
      came back): two different devices within `confirm` of each other, or the button at
      once. One device alone, even firing for hours, is not a person coming home: pets and
      sunlight set PIRs off in empty homes, and a mercury switch in a drawer or a contact
      on a loose door flickers now and then. In a home with one PIR only, its motion counts
      alone;
    - once the door has been quiet for `confirm`, its next opening is the resident coming
      back in, watched from that moment (a fall right after coming home is not mistaken for
      an absence); unless a device saw someone inside just before it: then it is somebody
      going out;
    - the door opening again within `REOPEN_S` of coming in (a contact that bounces, a door
      pushed twice) is the same passage, not a departure.
    """

    __slots__ = ("last_act", "last_room", "last_device", "last_door", "left", "grace",
                 "confirm", "seen_dev", "seen_t", "pirs", "back_t")

    def __init__(self, cfg: DetectorConfig, pirs: int = 2) -> None:
        self.last_act: float | None = None
        self.last_room = ""
        self.last_device = ""
        self.last_door: float | None = None   # last entrance-door event (open or close)
        self.left: float | None = None        # the opening that began the absence; None: home
        self.grace = cfg.away.door_grace_s
        self.confirm = cfg.away.confirm_min * 60
        self.seen_dev = ""                    # away: the last device that showed life alone
        self.seen_t = 0.0
        # PIRs in the home: with one only, it must count alone (else a resident who answered
        # the door and sat down in its room would stay "away" until the next time out)
        self.pirs = pirs
        self.back_t = -1e18                   # the opening by which the resident last came in

    def latest(self) -> float:
        return max(self.last_act or 0.0, self.last_door or 0.0)

    def act(self, t: float, room: str, device: str, kind: str) -> bool:
        """A sign of life at t from a device of `kind`; False when it does not count: the
        passage through the entrance, or one device alone while the resident is away."""
        if self.left is not None:
            d = self.last_door or self.left
            if room in _PASSAGE_ROOMS and t - d < self.grace and \
                    (self.last_act is None or self.last_act <= d):
                return False
            alone = kind == "button" or (kind == "motion" and self.pirs <= 1)
            if not alone and not (self.seen_dev and self.seen_dev != device and
                                  t - self.seen_t <= self.confirm):
                self.seen_dev, self.seen_t = device, t
                return False
            self.left = None
            self.seen_dev = ""
        if self.last_act is None or t >= self.last_act:
            self.last_act, self.last_room, self.last_device = t, room, device
        return True

    def door(self, t: float, opening: bool, room: str, device: str) -> int:
        """An entrance-door event: LEFT when it may begin an absence, BACK when the resident
        came back in, PASSAGE when the door opened again while coming in, else 0 (a closing,
        or more of a passage out)."""
        if self.last_door is not None and t < self.last_door:
            return 0
        prev, self.last_door = self.last_door, t
        if not opening:
            return 0
        if self.left is None:
            if t - self.back_t < REOPEN_S:
                return PASSAGE
            self.left = t
            self.seen_dev = ""
            return LEFT
        if prev is not None and t - prev >= self.confirm:
            if self.seen_dev and t - self.seen_t < self.confirm:
                # a device saw someone inside just before: whoever it is is going out (or
                # letting someone in), not coming home
                self.left = t
                self.seen_dev = ""
                return LEFT
            self.left = None
            self.seen_dev = ""
            self.back_t = t
            self.last_act, self.last_room, self.last_device = t, room, device
            return BACK
        return 0

    def context(self) -> int:
        return HOME if self.left is None else AWAY

    def reference(self) -> float | None:
        """When the current stillness (home) or absence (away) began."""
        return self.left if self.left is not None else self.last_act
