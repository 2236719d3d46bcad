"""How the soak report shows its figures: "—" for what was not measured, counts, seconds,
shares and times of the run; and the parts of a `figures` dict that are not scalars."""

from __future__ import annotations

import math
from typing import Any

MISSING = "—"


def missing(v: Any) -> bool:
    # NaN too: devtools.stacks.percentile returns NaN for no values.
    return v is None or (isinstance(v, float) and not math.isfinite(v))


def plain(v: Any) -> str:
    """A value as the JSON would show it, floats cut to 3 decimals."""
    if missing(v):
        return MISSING
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        s = f"{v:.3f}".rstrip("0")
        return s + "0" if s.endswith(".") else s
    return str(v)


def count(v: Any) -> str:
    if missing(v):
        return MISSING
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.1f}"
    return f"{int(v):,}"


def sec(v: Any) -> str:
    return MISSING if missing(v) else f"{v:.1f}"


def pct(v: Any) -> str:
    # Rounded down, so a share just short of a target never prints as the target itself.
    if missing(v):
        return MISSING
    return f"{math.floor(v * 1000 + 1e-6) / 10:.1f}%"


def short(v: Any) -> str:
    """A tick or headline number without needless decimals: 10.0 -> 10, 0.5 -> 0.5."""
    if missing(v):
        return MISSING
    if float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:g}"


def mmss(s: Any) -> str:
    if missing(s):
        return MISSING
    s = max(0, round(s))
    return f"{s // 60:02d}:{s % 60:02d}"


def faults_of(figures: dict) -> list[dict]:
    return [f for f in (figures.get("faults") or []) if isinstance(f, dict)]


def services_of(figures: dict) -> dict[str, dict]:
    services = figures.get("services") or {}
    return {k: (v if isinstance(v, dict) else {}) for k, v in services.items()}


def recovery_services(faults: list[dict]) -> list[str]:
    names: list[str] = []
    for f in faults:
        for name in (f.get("recovery_s") or {}):
            if name not in names:
                names.append(name)
    return names


def duration_of(f: dict) -> float | None:
    at, end = f.get("at_s"), f.get("end_s")
    if missing(at) or missing(end):
        return None
    return max(0.0, end - at)


def headline_args(figures: dict) -> dict[str, str]:
    return {"lost": count(figures.get("lost")),
            "delivered": count(figures.get("emergencies_delivered")),
            "injected": count(figures.get("emergencies_injected")),
            "p99": sec(figures.get("deliver_p99_s"))}
