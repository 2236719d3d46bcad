"""Turn a soak run's `figures` dict into a terminal table and a Markdown report (the SVG
timeline is soak.timeline, the words soak.texts, the number formats soak.formatting).

Contract: every function here is pure (figures in, text out; no I/O, no clock, standard library
only) and accepts the dict `anju soak` builds: scalar figures (any of which may be None, meaning
"not measured", and is then printed as "—"), `faults` (kind, at_s, end_s, detail and its
translation detail_zh, recovery_s per
service), `services` (peak_rss_mb, cpu_s, peak_cpu_pct, restarts per service) and `timeline`
(`throughput`: [s, stored readings/s]; `emergencies`: [injected at s, latency s or None, kind]).
Missing keys are treated like None, so a partial run still renders.

    render_table(figures) -> str             plain text, keys as in the JSON
    render_report(figures, lang="zh") -> str Markdown for people ("zh" or "en")
    timeline.render_svg(figures, lang="zh")  a self-contained SVG timeline, valid XML

Every user-facing word goes through texts.CATALOG, so the two languages cannot drift apart.
"""

from __future__ import annotations

import functools
from typing import Any

from soak.formatting import (MISSING, count, duration_of, faults_of, headline_args, missing,
                             mmss, pct, plain, recovery_services, sec, services_of, short)
from soak.texts import check_lang, fault_label, tr

# The telecare benchmark the report compares against: 97.5 % of alarms answered within 60 s,
# 99 % within 180 s. (console/reports.py uses EN 50134-7's 80 % / 98.5 % for real calls.)
TARGET_60S = 0.975
TARGET_180S = 0.99

# The order and formatting of the results table; "share" rows are compared with a target.
RESULT_ROWS: tuple[tuple[str, str, float | None], ...] = (
    ("published", "count", None), ("stored", "count", None), ("lost", "count", None),
    ("duplicates", "count", None), ("duplicates_sent", "count", None),
    ("malformed_sent", "count", None), ("quarantined", "count", None),
    ("emergencies_injected", "count", None), ("emergencies_delivered", "count", None),
    ("deliver_p50_s", "seconds", None), ("deliver_p99_s", "seconds", None),
    ("deliver_max_s", "seconds", None),
    ("delivered_within_60s", "share", TARGET_60S), ("delivered_within_180s", "share", TARGET_180S),
    ("emergencies_in_outage", "count", None), ("in_outage_delivered", "count", None),
    ("in_outage_max_s_after_recovery", "seconds", None),
    ("acknowledged", "count", None), ("escalations_stopped_on_ack", "count", None),
    ("escalations_after_ack", "count", None), ("outage_family_pages", "count", None),
    ("false_alarms", "count", None), ("false_alarms_per_home_day", "rate", None),
    ("collapses_injected", "count", None), ("collapses_detected", "count", None),
)
SERVICE_COLS = ("peak_rss_mb", "cpu_s", "peak_cpu_pct", "restarts")
NON_SCALAR = ("faults", "services", "timeline")


def _fmt(v: Any, how: str) -> str:
    if how == "count":
        return count(v)
    if how == "seconds":
        return sec(v)
    if how == "share":
        return pct(v)
    return MISSING if missing(v) else f"{v:.2f}"


def _meets(share: Any, target: float) -> bool | None:
    """None when not measured, so "met" is never claimed for a missing figure."""
    if missing(share):
        return None
    return share + 1e-9 >= target


# ---------------------------------------------------------------- terminal table

def _columns(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]


def render_table(figures: dict) -> str:
    """Scalar figures as key/value pairs in two columns, then faults and services; the keys are
    the JSON's so what the terminal shows can be found in the file."""
    pairs = [(k, plain(v)) for k, v in figures.items() if k not in NON_SCALAR
             and not isinstance(v, (dict, list))]
    # Column-major, so related figures (published, stored, lost…) read down, not across.
    half = (len(pairs) + 1) // 2
    left, right = pairs[:half], pairs[half:]
    lines = _columns([""] * 5, [[*left[i], "", *(right[i] if i < len(right) else ("", ""))]
                                for i in range(half)])[1:]

    faults = faults_of(figures)
    if faults:
        names = recovery_services(faults)
        header = ["kind", "at_s", "end_s", *(f"recovery_s.{n}" for n in names)]
        rows = [[str(f.get("kind", "")), plain(f.get("at_s")), plain(f.get("end_s")),
                 *(plain((f.get("recovery_s") or {}).get(n)) for n in names)] for f in faults]
        lines += ["", "faults", *_columns(header, rows)]

    services = services_of(figures)
    if services:
        cols = list(SERVICE_COLS)
        for s in services.values():
            cols += [c for c in s if c not in cols]
        rows = [[name, *(plain(s.get(c)) for c in cols)] for name, s in services.items()]
        lines += ["", "services", *_columns(["service", *cols], rows)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- Markdown report

def _cell(v: Any) -> str:
    # A pipe or newline inside a cell would break the table for every row after it.
    return str(v).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _code(v: Any) -> str:
    # A code span shows "<&>" as written instead of letting a Markdown renderer take it as HTML;
    # backslashes are literal there, only the table's pipe still needs one.
    text = " ".join(str(v).replace("`", "'").replace("|", "\\|").splitlines())
    return f"`{text}`" if text else ""


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
            *("| " + " | ".join(r) + " |" for r in rows)]


def render_report(figures: dict, lang: str = "zh") -> str:
    """A short Markdown report (what was run, results against the telecare benchmark, faults,
    resources) in simple Chinese ("zh") or English ("en")."""
    check_lang(lang)
    t = functools.partial(tr, lang)
    colon = t("colon")
    faults = faults_of(figures)

    def unit(key: str, v: Any) -> str:
        return MISSING if missing(v) else t(key, short(v))

    kinds = t("list_sep").join(fault_label(f.get("kind"), lang) for f in faults)
    run = [
        ("run.homes", unit("unit.homes", figures.get("homes"))),
        ("run.minutes", unit("unit.minutes", figures.get("minutes"))),
        ("run.duration", mmss(figures.get("duration_s"))),
        ("run.speed", unit("unit.speed", figures.get("speed"))),
        ("run.seed", plain(figures.get("seed"))),
        ("run.plan", plain(figures.get("faults_plan"))),
        ("run.faults", t("unit.faults", n=len(faults), kinds=kinds) if faults else "0"),
        ("run.started", plain(figures.get("started_at"))),
    ]
    out = [f"# {t('title')}", "", f"**{t('headline', **headline_args(figures))}**", "",
           f"## {t('sec.run')}", ""]
    out += [f"- {t(key)}{colon}{_cell(value)}" for key, value in run]

    rows = []
    for key, how, target in RESULT_ROWS:
        value = figures.get(key)
        bench = verdict = ""
        if target is not None:
            bench = t("at_least", pct(target))
            ok = _meets(value, target)
            verdict = MISSING if ok is None else t("met") if ok else f"**{t('not_met')}**"
        rows.append([t(f"r.{key}"), _fmt(value, how), bench, verdict])
    out += ["", f"## {t('sec.results')}", "",
            *_md_table([t("col.figure"), t("col.value"), t("col.benchmark"), t("col.verdict")],
                       rows),
            "", t("note.benchmark")]

    out += ["", f"## {t('sec.faults')}", ""]
    if faults:
        names = recovery_services(faults)
        header = [t("col.fault"), t("col.at"), t("col.duration"),
                  *(t("col.recovery", _cell(n)) for n in names), t("col.detail")]
        frows = []
        for f in faults:
            d = duration_of(f)
            duration = MISSING if d is None else t("instant") if d == 0 else sec(d)
            rec = f.get("recovery_s") or {}
            frows.append([_cell(fault_label(f.get("kind"), lang)), mmss(f.get("at_s")), duration,
                          *(sec(rec.get(n)) for n in names),
                          _cell(f.get(f"detail_{lang}") or f.get("detail") or "")])
        out += _md_table(header, frows)
    else:
        out.append(t("no_faults"))

    out += ["", f"## {t('sec.resources')}", ""]
    services = services_of(figures)
    if services:
        srows = [[_cell(name), sec(s.get("peak_rss_mb")), sec(s.get("cpu_s")),
                  sec(s.get("peak_cpu_pct")), count(s.get("restarts"))]
                 for name, s in services.items()]
        out += _md_table([t("col.service"), *(t(f"col.{c}") for c in SERVICE_COLS)], srows)
    else:
        out.append(t("no_services"))
    out += ["", t("note.missing")]
    return "\n".join(out) + "\n"
