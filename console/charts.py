"""Charts drawn on the server as SVG: pure functions of rows and a clock.

No script runs to draw them, so they show at once, print, and work with
the strictest content security policy.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

# No viewBox: x positions and widths are percentages of the box, heights are pixels.
# The strips stretch to any width while the text keeps its CSS size (console.css), so
# a phone's labels are as readable as a laptop's instead of shrunk with the drawing.
LABEL_H = 16   # a room's name, on its own line above its strip
LANE_H = 16
ROW_H = LABEL_H + LANE_H + 6
AXIS_H = 22
EDGE = 6.0     # % from either side where an axis label is anchored inward, not centred


def _pct(v: float) -> str:
    return f"{v:.3f}%"


def _svg_open(css: str, height: int, title: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" class="{css}" width="100%" '
            f'height="{height}" role="img" aria-label="{escape(title)}">',
            f"<title>{escape(title)}</title>"]


def _ticks(since: datetime, until: datetime, tz: str, every: timedelta) -> list[datetime]:
    """Round local times (every 3 h, or midnights) between since and until."""
    zone = ZoneInfo(tz)
    local = since.astimezone(zone)
    if every >= timedelta(days=1):
        t = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    else:
        hours = int(every.total_seconds() // 3600)
        t = local.replace(minute=0, second=0, microsecond=0)
        t += timedelta(hours=(hours - t.hour % hours) % hours or hours)
    out = []
    while t < until:
        out.append(t)
        t = (t + every).astimezone(zone)
    return out


def _x(t: datetime, since: datetime, until: datetime) -> float:
    """Where t falls between since and until, in % of the width."""
    span = (until - since).total_seconds()
    return 100 * (t - since).total_seconds() / span


def activity(rows: list[tuple[str, datetime, int]], *, since: datetime, until: datetime,
             tz: str, step: timedelta, room_name=lambda r: r, title: str = "",
             empty: str = "—", normal: dict[tuple[str, int], float] | None = None,
             normal_label: str = "usual") -> str:
    """A heat strip per room: the darker a cell, the more activations in that step.

    `normal` (room, local quarter-hour) -> share of past days active then: drawn as
    a band along the bottom of each lane, darker where activity is usual, so a
    quiet morning in a usually busy kitchen stands out.
    """
    normal = normal or {}
    cells: dict[tuple[str, int], int] = {}
    rooms: list[str] = sorted({room for room, _ in normal})
    n_steps = int((until - since) / step)
    for room, bucket, n in rows:
        i = int((bucket - since) / step)
        if not 0 <= i < n_steps or n <= 0:
            continue
        if room not in rooms:
            rooms.append(room)
        cells[(room, i)] = cells.get((room, i), 0) + n
    rooms.sort()
    zone = ZoneInfo(tz)
    per_step = max(1, int(step / timedelta(minutes=15)))
    plot_h = max(1, len(rooms)) * ROW_H
    out = _svg_open("chart chart-activity", plot_h + AXIS_H, title)
    if not rooms:
        out.append(f'<text x="50%" y="{plot_h / 2 + 4:.0f}" class="empty" '
                   f'text-anchor="middle">{escape(empty)}</text>')
    top = max(cells.values(), default=1)
    cw = 100 / n_steps
    for r, room in enumerate(rooms):
        y = r * ROW_H + LABEL_H
        out.append(f'<text x="0" y="{y - 4}" class="label">{escape(room_name(room))}</text>')
        out.append(f'<rect x="0" y="{y}" width="100%" height="{LANE_H}" class="lane"/>')
        if normal:
            for i in range(n_steps):
                local = (since + i * step).astimezone(zone)
                slot0 = local.hour * 4 + local.minute // 15
                share = max(normal.get((room, (slot0 + k) % 96), 0.0) for k in range(per_step))
                if share >= 0.1:
                    out.append(f'<rect x="{_pct(i * cw)}" y="{y + LANE_H - 3}" '
                               f'width="{_pct(cw)}" height="3" class="usual" '
                               f'fill-opacity="{min(1.0, share):.2f}"><title>'
                               f'{escape(normal_label)} {share:.0%}</title></rect>')
        for i in range(n_steps):
            n = cells.get((room, i))
            if n:
                op = 0.25 + 0.75 * n / top
                out.append(f'<rect x="{_pct(i * cw)}" y="{y}" width="{_pct(cw)}" '
                           f'height="{LANE_H}" class="cell" fill-opacity="{op:.2f}">'
                           f"<title>{n}</title></rect>")
    _axis(out, since, until, tz, plot_h)
    out.append("</svg>")
    return "".join(out)


def bars(points: list[tuple[datetime, float]], *, since: datetime, until: datetime, tz: str,
         step: timedelta, unit: str, title: str = "", css: str = "", empty: str = "—") -> str:
    """One bar per step (water litres, mean watts), with the largest value marked."""
    head = 18      # the largest value, written above the bars
    plot_h = 90
    height = head + plot_h + AXIS_H
    n_steps = int((until - since) / step)
    vals: dict[int, float] = {}
    for bucket, v in points:
        i = int((bucket - since) / step)
        if 0 <= i < n_steps and v is not None:
            vals[i] = vals.get(i, 0.0) + float(v)
    top = max(vals.values(), default=0.0)
    out = _svg_open(f"chart chart-bars {escape(css)}".strip(), height, title)
    base = head + plot_h
    if top <= 0:
        out.append(f'<text x="50%" y="{head + plot_h / 2:.0f}" class="empty" '
                   f'text-anchor="middle">{escape(empty)}</text>')
    else:
        out.append(f'<text x="0" y="13" class="label">{top:.0f} {escape(unit)}</text>')
        out.append(f'<line x1="0" x2="100%" y1="{base}" y2="{base}" class="base"/>')
        cw = 100 / n_steps
        for i, v in sorted(vals.items()):
            h = plot_h * v / top
            out.append(f'<rect x="{_pct(i * cw)}" y="{base - h:.1f}" '
                       f'width="{_pct(cw * 0.85)}" height="{h:.1f}" class="bar">'
                       f"<title>{v:.1f} {escape(unit)}</title></rect>")
    _axis(out, since, until, tz, base + 2)
    out.append("</svg>")
    return "".join(out)


def _axis(out: list[str], since: datetime, until: datetime, tz: str, y: float) -> None:
    span = until - since
    every = timedelta(days=1) if span > timedelta(days=2) else timedelta(hours=3)
    fmt = "%m-%d" if every >= timedelta(days=1) else "%H:%M"
    for i, t in enumerate(_ticks(since, until, tz, every)):
        x = _x(t, since, until)
        # a label at the very edge would be cut in half by the box: anchor it inward
        anchor = "start" if x < EDGE else "end" if x > 100 - EDGE else "middle"
        # every other label is "alt": a phone hides those (console.css) so none touch
        css = "axis alt" if i % 2 else "axis"
        out.append(f'<line x1="{_pct(x)}" x2="{_pct(x)}" y1="0" y2="{y:.1f}" class="tick"/>')
        out.append(f'<text x="{_pct(x)}" y="{y + 15:.1f}" class="{css}" '
                   f'text-anchor="{anchor}">{t:{fmt}}</text>')
