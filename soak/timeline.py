"""The soak run's SVG timeline: faults on top, stored readings per second in the middle,
each emergency's delivery time below. Pure: figures in, a self-contained SVG out."""

from __future__ import annotations

import functools
import math
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from soak.formatting import (count, duration_of, faults_of, headline_args, missing, mmss, sec,
                             short)
from soak.texts import check_lang, emergency_label, fault_label, tr

FONT = "'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', sans-serif"

W, H = 1000, 520
X0, X1 = 80, 970                 # plot area, left and right
BAND = (62.0, 118.0)             # faults
THRU = (132.0, 284.0)            # throughput
LAT = (300.0, 462.0)             # emergencies; the first 18 px are the "not delivered" row
RED, GREEN, ORANGE, BLUE, GREY = "#c62828", "#2e7d32", "#ef6c00", "#1565c0", "#9e9e9e"


def _attrs(**kw: Any) -> str:
    return "".join(f" {k.rstrip('_').replace('_', '-')}={quoteattr(str(v))}"
                   for k, v in kw.items() if v is not None)


def _text(x: float, y: float, s: str, **kw: Any) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}"{_attrs(**kw)}>{escape(s)}</text>'


def _text_width(s: str, size: float = 12) -> float:
    """A rough width: CJK characters are square, Latin ones about half as wide."""
    return sum(size if ord(c) >= 0x2E80 else size * 0.55 for c in s)


def _nice_step(span: float, target: int) -> float:
    raw = span / max(target, 1)
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw * (1 - 1e-9))


def _span_s(figures: dict) -> float:
    """The x axis' length: duration_s, else the latest thing the figures mention."""
    d = figures.get("duration_s")
    if not missing(d) and d > 0:
        return float(d)
    tl = figures.get("timeline") or {}
    times = [p[0] for p in (tl.get("throughput") or []) if p and not missing(p[0])]
    times += [e[0] for e in (tl.get("emergencies") or []) if e and not missing(e[0])]
    for f in faults_of(figures):
        times += [v for v in (f.get("at_s"), f.get("end_s")) if not missing(v)]
    return max([60.0, *times])


def render_svg(figures: dict, lang: str = "zh") -> str:
    """A 1000x520 timeline: faults on top, stored readings per second in the middle, each
    emergency's delivery time below (undelivered ones as red crosses on the top row)."""
    check_lang(lang)
    t = functools.partial(tr, lang)
    span = _span_s(figures)
    tl = figures.get("timeline") or {}

    def x(s: float) -> float:
        return X0 + (X1 - X0) * min(max(s, 0.0), span) / span

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'viewBox="0 0 {W} {H}" font-family="{escape(FONT)}" font-size="12" fill="#212121">',
           f'<rect width="{W}" height="{H}" fill="#ffffff"/>']
    out.append(_text(X0, 26, t("svg.title", homes=count(figures.get("homes")),
                               minutes=short(figures.get("minutes"))),
                     font_size=18, font_weight="bold"))
    undelivered = [e for e in (tl.get("emergencies") or []) if len(e) > 1 and missing(e[1])]
    trouble = (not missing(figures.get("lost")) and figures["lost"] > 0) or bool(undelivered)
    out.append(_text(X0, 48, t("headline", **headline_args(figures)), font_size=14,
                     font_weight="bold", fill=RED if trouble else GREEN))

    # frames and the shared minute grid
    out.append(f'<rect x="{X0}" y="{BAND[0]}" width="{X1 - X0}" height="{BAND[1] - BAND[0]}" '
               f'fill="#f5f5f5"/>')
    for top, bottom in (THRU, LAT):
        out.append(f'<rect x="{X0}" y="{top}" width="{X1 - X0}" height="{bottom - top}" '
                   f'fill="none" stroke="#bdbdbd"/>')
    minutes = span / 60
    step = _nice_step(minutes, 10)
    m = 0.0
    while m <= minutes + 1e-9:
        px = x(m * 60)
        out.append(f'<line x1="{px:.1f}" y1="{THRU[0]}" x2="{px:.1f}" y2="{LAT[1]}" '
                   f'stroke="#eeeeee"/>')
        out.append(f'<line x1="{px:.1f}" y1="{LAT[1]}" x2="{px:.1f}" y2="{LAT[1] + 4}" '
                   f'stroke="#757575"/>')
        out.append(_text(px, LAT[1] + 17, short(round(m, 6)), text_anchor="middle"))
        m += step
    out.append(_text((X0 + X1) / 2 - 160, H - 12, t("svg.minutes"), text_anchor="middle",
                     fill="#616161"))

    out += _svg_faults(figures, lang, x)
    out += _svg_throughput(tl.get("throughput") or [], lang, x)
    out += _svg_emergencies(tl.get("emergencies") or [], lang, x)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _svg_faults(figures: dict, lang: str, x: Any) -> list[str]:
    out = [_text(X0 - 8, (BAND[0] + BAND[1]) / 2 + 4, tr(lang, "svg.faults"), text_anchor="end",
                 font_weight="bold")]
    for i, f in enumerate(faults_of(figures)):
        at = f.get("at_s")
        if missing(at):
            continue
        label = fault_label(f.get("kind"), lang)
        d = duration_of(f)
        detail = f.get(f"detail_{lang}") or f.get("detail") or ""
        tip = " · ".join(p for p in (label, mmss(at), str(detail)) if p)
        out.append(f'<g class="fault"{_attrs(data_kind=f.get("kind", ""))}>'
                   f'<title>{escape(tip)}</title>')
        x0 = x(at)
        if not d:
            out.append(f'<line x1="{x0:.1f}" y1="{BAND[0]}" x2="{x0:.1f}" y2="{LAT[1]}" '
                       f'stroke="{RED}" stroke-width="1.5" stroke-opacity="0.7"/>')
        else:
            w = max(x(at + d) - x0, 2.0)
            out.append(f'<rect x="{x0:.1f}" y="{BAND[0]}" width="{w:.1f}" '
                       f'height="{BAND[1] - BAND[0]}" fill="{ORANGE}" fill-opacity="0.35"/>')
            out.append(f'<rect x="{x0:.1f}" y="{THRU[0]}" width="{w:.1f}" '
                       f'height="{LAT[1] - THRU[0]}" fill="{ORANGE}" fill-opacity="0.08"/>')
        # Three label rows, so faults close together do not print over each other.
        ly = BAND[0] + 15 + (i % 3) * 16
        if x0 > X1 - 120:
            out.append(_text(x0 - 4, ly, label, text_anchor="end", font_size=11))
        else:
            out.append(_text(x0 + 4, ly, label, font_size=11))
        out.append("</g>")
    return out


def _svg_throughput(points: list, lang: str, x: Any) -> list[str]:
    top, bottom = THRU
    mid = (top + bottom) / 2
    out = [_text(22, mid, tr(lang, "svg.throughput"), text_anchor="middle",
                 transform=f"rotate(-90 22 {mid:.1f})", fill="#616161")]
    pts = [(p[0], p[1]) for p in points if len(p) > 1 and not missing(p[0])
           and not missing(p[1])]
    if not pts:
        out.append(_text((X0 + X1) / 2, mid, tr(lang, "svg.no_data"), text_anchor="middle",
                         fill=GREY))
        return out
    peak = max(v for _, v in pts)
    step = _nice_step(peak, 4) if peak > 0 else 1.0
    ymax = step * max(1, math.ceil(peak / step - 1e-9))

    def y(v: float) -> float:
        return bottom - (bottom - top - 8) * max(v, 0.0) / ymax

    v = 0.0
    while v <= ymax + 1e-9:
        out.append(f'<line x1="{X0}" y1="{y(v):.1f}" x2="{X1}" y2="{y(v):.1f}" stroke="#eeeeee"/>')
        out.append(_text(X0 - 6, y(v) + 4, short(round(v, 6)), text_anchor="end"))
        v += step
    coords = " ".join(f"{x(s):.1f},{y(r):.1f}" for s, r in sorted(pts))
    out.append(f'<polyline class="throughput" points="{coords}" fill="none" stroke="{BLUE}" '
               f'stroke-width="1.5" stroke-linejoin="round"/>')
    return out


def _svg_emergencies(emergencies: list, lang: str, x: Any) -> list[str]:
    top, bottom = LAT
    cross_y, dots_top = top + 9, top + 20
    mid = (dots_top + bottom) / 2
    out = [_text(22, mid, tr(lang, "svg.latency"), text_anchor="middle",
                 transform=f"rotate(-90 22 {mid:.1f})", fill="#616161"),
           _text(X0 - 6, cross_y + 4, tr(lang, "svg.undelivered"), text_anchor="end",
                 font_size=10, fill=RED)]
    rows = [(e[0], e[1] if len(e) > 1 else None, e[2] if len(e) > 2 else "")
            for e in emergencies if e and not missing(e[0])]
    lats = [lat for _, lat, _ in rows if not missing(lat)]
    # Log scale: most deliveries take seconds, the benchmark line is at 60 s, and a slow one
    # may take many minutes; linear would squash the first two into the floor.
    hi = max([60.0, *lats])
    lo = 0.1 if any(lat < 1 for lat in lats) else 1.0

    def y(lat: float) -> float:
        frac = (math.log10(max(lat, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
        return bottom - (bottom - dots_top) * frac

    for tick in (0.1, 1, 10, 60, 600, 3600, 36000):
        if lo <= tick <= hi:
            out.append(f'<line x1="{X0}" y1="{y(tick):.1f}" x2="{X1}" y2="{y(tick):.1f}" '
                       f'stroke="#eeeeee"/>')
            out.append(_text(X0 - 6, y(tick) + 4, short(tick), text_anchor="end"))
    out.append(f'<line x1="{X0}" y1="{y(60):.1f}" x2="{X1}" y2="{y(60):.1f}" stroke="{RED}" '
               f'stroke-dasharray="6 4"/>')
    out.append(_text(X1 - 4, y(60) - 4, tr(lang, "svg.line60"), text_anchor="end", fill=RED,
                     font_size=11))

    for at, lat, kind in rows:
        px, what = x(at), emergency_label(kind, lang)
        if missing(lat):
            tip = tr(lang, "svg.cross", kind=what, at=mmss(at))
            out.append(f'<path class="emergency undelivered" d="M{px - 4:.1f},{cross_y - 4:.1f} '
                       f'L{px + 4:.1f},{cross_y + 4:.1f} M{px - 4:.1f},{cross_y + 4:.1f} '
                       f'L{px + 4:.1f},{cross_y - 4:.1f}" stroke="{RED}" stroke-width="2">'
                       f'<title>{escape(tip)}</title></path>')
        else:
            tip = tr(lang, "svg.dot", kind=what, at=mmss(at), latency=sec(lat))
            out.append(f'<circle class="emergency" cx="{px:.1f}" cy="{y(lat):.1f}" r="3.5" '
                       f'fill="{GREEN if lat <= 60 else ORANGE}" fill-opacity="0.85">'
                       f'<title>{escape(tip)}</title></circle>')
    if not rows:
        out.append(_text((X0 + X1) / 2, mid, tr(lang, "svg.no_data"), text_anchor="middle",
                         fill=GREY))

    # legend, bottom right
    labels = [tr(lang, k) for k in ("svg.within", "svg.late", "svg.undelivered")]
    lx, ly = X1 - sum(_text_width(s) + 36 for s in labels) + 24, H - 12
    for color, label in ((GREEN, labels[0]), (ORANGE, labels[1])):
        out.append(f'<circle cx="{lx:.1f}" cy="{ly - 4:.1f}" r="4" fill="{color}"/>')
        out.append(_text(lx + 8, ly, label))
        lx += _text_width(label) + 36
    out.append(f'<path d="M{lx - 4:.1f},{ly - 8:.1f} L{lx + 4:.1f},{ly:.1f} M{lx - 4:.1f},'
               f'{ly:.1f} L{lx + 4:.1f},{ly - 8:.1f}" stroke="{RED}" stroke-width="2"/>')
    out.append(_text(lx + 8, ly, labels[2]))
    return out
