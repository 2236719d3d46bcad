"""Charts drawn on the server as SVG: pure functions of rows and a clock.

No script runs to draw them, so they show at once, print, and work with
the strictest content security policy.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

WIDTH = 720
LABEL_W = 84
ROW_H = 22
AXIS_H = 22


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


def _x(t: datetime, since: datetime, until: datetime, left: int, width: int) -> float:
    span = (until - since).total_seconds()
    return left + width * (t - since).total_seconds() / span


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
    plot_w = WIDTH - LABEL_W - 8
    height = max(1, len(rooms)) * ROW_H + AXIS_H + 4
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-activity" '
           f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">',
           f"<title>{escape(title)}</title>"]
    if not rooms:
        out.append(f'<text x="{WIDTH / 2}" y="{height / 2}" class="empty" '
                   f'text-anchor="middle">{escape(empty)}</text>')
    top = max(cells.values(), default=1)
    cw = plot_w / n_steps
    for r, room in enumerate(rooms):
        y = r * ROW_H + 2
        out.append(f'<text x="{LABEL_W - 6}" y="{y + ROW_H * 0.68:.1f}" class="label" '
                   f'text-anchor="end">{escape(room_name(room))}</text>')
        out.append(f'<rect x="{LABEL_W}" y="{y}" width="{plot_w}" height="{ROW_H - 4}" '
                   'class="lane"/>')
        if normal:
            for i in range(n_steps):
                local = (since + i * step).astimezone(zone)
                slot0 = local.hour * 4 + local.minute // 15
                share = max(normal.get((room, (slot0 + k) % 96), 0.0) for k in range(per_step))
                if share >= 0.1:
                    out.append(f'<rect x="{LABEL_W + i * cw:.2f}" y="{y + ROW_H - 7}" '
                               f'width="{max(cw, 1.2):.2f}" height="3" class="usual" '
                               f'fill-opacity="{min(1.0, share):.2f}"><title>'
                               f'{escape(normal_label)} {share:.0%}</title></rect>')
        for i in range(n_steps):
            n = cells.get((room, i))
            if n:
                op = 0.25 + 0.75 * n / top
                out.append(f'<rect x="{LABEL_W + i * cw:.2f}" y="{y}" width="{max(cw, 1.2):.2f}" '
                           f'height="{ROW_H - 4}" class="cell" fill-opacity="{op:.2f}">'
                           f"<title>{n}</title></rect>")
    _axis(out, since, until, tz, LABEL_W, plot_w, max(1, len(rooms)) * ROW_H + 2)
    out.append("</svg>")
    return "".join(out)


def bars(points: list[tuple[datetime, float]], *, since: datetime, until: datetime, tz: str,
         step: timedelta, unit: str, title: str = "", css: str = "", empty: str = "—") -> str:
    """One bar per step (water litres, mean watts), with the largest value marked."""
    plot_h = 90
    plot_w = WIDTH - LABEL_W - 8
    height = plot_h + AXIS_H + 8
    n_steps = int((until - since) / step)
    vals: dict[int, float] = {}
    for bucket, v in points:
        i = int((bucket - since) / step)
        if 0 <= i < n_steps and v is not None:
            vals[i] = vals.get(i, 0.0) + float(v)
    top = max(vals.values(), default=0.0)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-bars {escape(css)}" '
           f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">',
           f"<title>{escape(title)}</title>"]
    if top <= 0:
        out.append(f'<text x="{WIDTH / 2}" y="{plot_h / 2}" class="empty" '
                   f'text-anchor="middle">{escape(empty)}</text>')
    else:
        out.append(f'<text x="{LABEL_W - 6}" y="12" class="label" text-anchor="end">'
                   f"{top:.0f} {escape(unit)}</text>")
        out.append(f'<line x1="{LABEL_W}" x2="{WIDTH - 8}" y1="{plot_h + 2}" '
                   f'y2="{plot_h + 2}" class="base"/>')
        cw = plot_w / n_steps
        for i, v in sorted(vals.items()):
            h = plot_h * v / top
            out.append(f'<rect x="{LABEL_W + i * cw:.2f}" y="{plot_h + 2 - h:.1f}" '
                       f'width="{max(cw - 0.5, 1):.2f}" height="{h:.1f}" class="bar">'
                       f"<title>{v:.1f} {escape(unit)}</title></rect>")
    _axis(out, since, until, tz, LABEL_W, plot_w, plot_h + 4)
    out.append("</svg>")
    return "".join(out)


def _axis(out: list[str], since: datetime, until: datetime, tz: str, left: int, width: int,
          y: float) -> None:
    span = until - since
    every = timedelta(days=1) if span > timedelta(days=2) else timedelta(hours=3)
    fmt = "%m-%d" if every >= timedelta(days=1) else "%H:%M"
    for t in _ticks(since, until, tz, every):
        x = _x(t, since, until, left, width)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{y:.1f}" class="tick"/>')
        out.append(f'<text x="{x:.1f}" y="{y + 14:.1f}" class="axis" '
                   f'text-anchor="middle">{t:{fmt}}</text>')
