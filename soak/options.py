"""What a soak run is asked to do (Options) and what it keeps while it goes (Run)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from soak.plan import Plan

UTC = timezone.utc
PREHISTORY_S = 13 * 3600 + 1800    # collapse homes: the half day before, so stillness can run out


@dataclass
class Options:
    homes: int
    minutes: float
    speed: float = 1.0
    faults: str = "default"          # default, none, or a fault file's name
    fault_text: str | None = None
    seed: int = 1
    state_dir: Path = Path(".anju")
    out_dir: Path | None = None
    progress: bool = True
    collapses: int | None = None     # None: one per 500 homes on runs of 4 minutes or more


@dataclass
class Run:
    """What the run keeps while it goes."""
    o: Options
    plan: Plan
    prefix: str
    t_load: float = 0.0
    pressed: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)

    @property
    def readings_since(self) -> datetime:
        """Earlier than any reading of the run's homes (the collapse homes' half day before,
        and device clocks set back), for the readings table's time index."""
        return datetime.fromtimestamp(self.started_at - PREHISTORY_S - 7200, UTC)
