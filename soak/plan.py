"""What a soak run will do, decided before it starts: the faults and the emergencies.

Pure and seeded: the same (homes, minutes, seed, faults) gives the same plan, so a run that
found something can be run again. Times are seconds from the start of the load.

A fault file is plain text, one fault per line, `#` comments allowed:

    00:45  kill_ingest
    02:00  postgres_stop 120      # duration in seconds (outages only)
    05:30  network_cut 150
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

# kind -> (what it does, default duration in seconds: 0 for an instant fault)
FAULTS: dict[str, tuple[str, int]] = {
    "kill_ingest": ("kill -9 of the ingest worker, restarted a second later", 0),
    "kill_detect": ("kill -9 of the detector service, restarted a second later", 0),
    "kill_route": ("kill -9 of the router, restarted a second later", 0),
    "broker_restart": ("the MQTT broker stopped and started again", 5),
    "postgres_stop": ("PostgreSQL stopped, then started again", 120),
    "network_cut": ("the network between the homes and the broker cut (packets stop)", 180),
    "poison": ("hostile messages: oversized, malformed, deeply nested, invalid UTF-8", 0),
    "hijack": ("a device tries to speak for another, a wrong password, a subscribe to #", 0),
}
# Outages: emergencies during them are reported apart (delivered after recovery).
OUTAGES = frozenset({"postgres_stop", "network_cut", "broker_restart"})
# The order of a default cycle: instant faults between the outages, the longest last.
DEFAULT_ORDER = ("poison", "kill_ingest", "hijack", "kill_detect", "broker_restart",
                 "kill_route", "postgres_stop", "network_cut")
SETTLE_S = 20          # quiet time after an instant fault before the next
AFTER_OUTAGE_S = 40    # ... and after an outage ends
WARMUP_S = 30          # no fault in the first seconds: the baseline to compare against
TAIL_S = 30            # nor in the last ones: recovery must be seen inside the run
CYCLE_MIN = 12         # long runs repeat the default cycle about this often
MIN_OUTAGE_S = 20
CATCH_UP_S = 30        # after an outage, before an emergency counts as outside it

EMERGENCY_WEIGHTS = {"button": 5, "smoke": 2, "gas": 1, "water_leak": 2}


class PlanError(ValueError):
    """A fault schedule that cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Fault:
    kind: str
    at_s: float
    duration_s: float = 0.0

    @property
    def end_s(self) -> float:
        return self.at_s + self.duration_s


@dataclass(frozen=True)
class Emergency:
    home_index: int            # index into the run's homes
    kind: str                  # an incident kind: button, smoke, gas, water_leak
    at_s: float
    in_outage: bool = False    # planned inside an outage window on purpose


@dataclass
class Plan:
    minutes: float
    faults: list[Fault]
    emergencies: list[Emergency] = field(default_factory=list)
    collapses: list[tuple[int, float]] = field(default_factory=list)  # (home, found at_s)
    source: str = "default"

    def outage_windows(self, after_s: float = 0.0) -> list[tuple[float, float]]:
        return [(f.at_s, f.end_s + after_s) for f in self.faults if f.kind in OUTAGES]


def _fit(kinds: list[str], start: float, end: float) -> list[Fault]:
    """Place kinds one after another in [start, end), spread evenly, outages shortened to fit."""
    dur = {k: float(FAULTS[k][1]) for k in kinds}
    need = lambda: sum(dur[k] + (AFTER_OUTAGE_S if k in OUTAGES else SETTLE_S) for k in kinds)
    room = end - start
    # Shorten the network cut first (a minute still outlasts every keepalive), then the rest.
    for k, floor in (("network_cut", 60), ("network_cut", MIN_OUTAGE_S),
                     ("postgres_stop", MIN_OUTAGE_S)):
        while k in dur and need() > room and dur[k] > floor:
            dur[k] = max(floor, dur[k] - max(1.0, need() - room))
    if need() > room:
        raise PlanError(f"{len(kinds)} faults need {need():.0f} s and the run leaves {room:.0f} s "
                        f"for them: run longer (--minutes), or write a fault file")
    gap = (room - need()) / len(kinds)
    out, t = [], start + gap / 2
    for k in kinds:
        out.append(Fault(k, round(t, 1), round(dur[k], 1)))
        t += dur[k] + (AFTER_OUTAGE_S if k in OUTAGES else SETTLE_S) + gap
    return out


def default_faults(minutes: float) -> list[Fault]:
    """Each fault at least once, spaced out; a long run repeats the cycle."""
    total = minutes * 60
    cycles = max(1, int(minutes // CYCLE_MIN))
    span = (total - WARMUP_S - TAIL_S) / cycles
    out: list[Fault] = []
    for c in range(cycles):
        lo = WARMUP_S + c * span
        out += _fit(list(DEFAULT_ORDER), lo, lo + span)
    return out


def _clock(text: str) -> float:
    m = re.fullmatch(r"(?:(\d+):)?(\d+):(\d{1,2}(?:\.\d+)?)|(\d+(?:\.\d+)?)s?", text)
    if not m:
        raise ValueError(text)
    if m.group(4) is not None:
        return float(m.group(4))
    h, mm, s = int(m.group(1) or 0), int(m.group(2)), float(m.group(3))
    return h * 3600 + mm * 60 + s


def parse_faults(text: str, minutes: float, name: str = "fault file") -> list[Fault]:
    """Read a fault file (module docstring); every error names the line and what was expected."""
    out: list[Fault] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        where = f"{name}, line {n} ({raw.strip()!r})"
        if len(parts) not in (2, 3):
            raise PlanError(f"{where}: expected 'MM:SS kind [seconds]'")
        try:
            at = _clock(parts[0])
        except ValueError:
            raise PlanError(f"{where}: time {parts[0]!r}: expected MM:SS, HH:MM:SS or seconds")
        kind = parts[1]
        if kind not in FAULTS:
            raise PlanError(f"{where}: fault {kind!r}: expected one of {', '.join(FAULTS)}")
        dur = float(FAULTS[kind][1])
        if len(parts) == 3:
            if kind not in OUTAGES:
                raise PlanError(f"{where}: {kind} takes no duration (only "
                                f"{', '.join(sorted(OUTAGES))} do)")
            try:
                dur = float(parts[2])
            except ValueError:
                dur = -1
            if not 1 <= dur <= 6 * 3600:
                raise PlanError(f"{where}: duration {parts[2]!r}: expected seconds, 1 to 21600")
        if at + dur > minutes * 60:
            raise PlanError(f"{where}: ends at {at + dur:.0f} s, after the run's "
                            f"{minutes * 60:.0f} s (--minutes {minutes:g})")
        out.append(Fault(kind, at, dur))
    out.sort(key=lambda f: f.at_s)
    for a, b in zip(out, out[1:]):
        if a.kind in OUTAGES and b.kind in OUTAGES and b.at_s < a.end_s:
            raise PlanError(f"{name}: {b.kind} at {b.at_s:.0f} s starts during {a.kind} "
                            f"({a.at_s:.0f}-{a.end_s:.0f} s): one outage at a time")
    return out


def emergency_count(homes: int, minutes: float) -> int:
    """Enough to measure a p99 on a long run, few enough to stay plausible per home."""
    return max(4, min(400, round(homes * minutes / 100), homes * 2))


def plan_emergencies(rng: random.Random, homes: list[set[str]], minutes: float,
                     faults: list[Fault], n: int | None = None) -> list[Emergency]:
    """Emergencies at seeded times: outside the outages (and the half minute of catching up
    after each), and one a minute inside each outage of 20 s or more, reported apart.
    homes: each home's device kinds."""
    total = minutes * 60
    lo, hi = 20.0, max(30.0, total - 60.0)
    windows = [(f.at_s, f.end_s + CATCH_UP_S) for f in faults if f.kind in OUTAGES]
    n = emergency_count(len(homes), minutes) if n is None else n
    kinds = list(EMERGENCY_WEIGHTS)
    weights = [EMERGENCY_WEIGHTS[k] for k in kinds]
    used: dict[int, float] = {}                 # a home presses once per 10 minutes at most
    out: list[Emergency] = []

    def pick(at: float, in_outage: bool) -> None:
        for _ in range(50):
            h = rng.randrange(len(homes))
            if abs(used.get(h, -1e9) - at) < 600:
                continue
            kind = rng.choices(kinds, weights)[0]
            need = {"water_leak": "leak"}.get(kind, kind)
            if need not in homes[h]:
                if "button" not in homes[h]:
                    continue
                kind = "button"
            used[h] = at
            out.append(Emergency(h, kind, round(at, 1), in_outage))
            return

    tries = 0
    while len(out) < n and tries < n * 50:
        tries += 1
        at = rng.uniform(lo, hi)
        if not any(a <= at < b for a, b in windows):
            pick(at, False)
    for f in faults:
        if f.kind in OUTAGES and f.duration_s >= 20:
            k = max(1, round(f.duration_s / 60))
            for i in range(k):
                pick(f.at_s + f.duration_s * (i + rng.uniform(0.1, 0.9)) / k, True)
    return sorted(out, key=lambda e: e.at_s)


def make_plan(homes: list[set[str]], minutes: float, seed: int, faults: str = "default",
              fault_text: str | None = None, collapses: int | None = None) -> Plan:
    """faults: "default", "none" or a file's name (its text in fault_text)."""
    rng = random.Random(seed)
    if faults == "none":
        fl, source = [], "none"
    elif faults == "default":
        fl, source = default_faults(minutes), "default"
    else:
        fl, source = parse_faults(fault_text or "", minutes, faults), faults
    em = plan_emergencies(rng, homes, minutes, fl)
    # Collapses are found by inactivity hours later: the resident fell before the run so that
    # the home's stillness limit runs out during it. One per 500 homes, at least one if any run.
    n = (max(1, len(homes) // 500) if minutes >= 4 else 0) if collapses is None else collapses
    taken = {e.home_index for e in em}
    free = [i for i in range(len(homes)) if i not in taken and "motion" in homes[i]]
    rng.shuffle(free)
    total = minutes * 60
    col = sorted(((free[i], round(rng.uniform(0.3, 0.7) * total, 1))
                  for i in range(min(n, len(free)))), key=lambda c: c[1])
    return Plan(minutes, fl, em, col, source)
