"""The detectors, one rule each (see detectors/rules/base.py for what a rule is).

RULES is the one list the monitor runs, in this order: where two rules answer the same
event or deadline, their findings come in it (the inactivity rule before the away rule:
both ask stillness.still(), which the first works out and the second finds cached).
"""

from __future__ import annotations

from detectors.rules.alarms import Alarms, Button
from detectors.rules.away import Away
from detectors.rules.base import Deadline, Due, Rule
from detectors.rules.decline import Decline
from detectors.rules.devices import Battery, Devices, SensorDead
from detectors.rules.doors import Doors
from detectors.rules.inactivity import Inactivity
from detectors.rules.power import Power
from detectors.rules.routine import Routine
from detectors.rules.water import Water

RULES: tuple[Rule, ...] = (
    Alarms(), Button(), Water(), Power(), Inactivity(), Away(), Doors(), Devices(), Battery(),
    Decline(), SensorDead(), Routine(),
)

__all__ = ["RULES", "Deadline", "Due", "Rule"]
