"""Turn a soak run's `figures` dict into a terminal table, a Markdown report and an SVG timeline.

Contract: every function here is pure (figures in, text out; no I/O, no clock, standard library
only) and accepts the dict `anju soak` builds: scalar figures (any of which may be None, meaning
"not measured", and is then printed as "—"), `faults` (kind, at_s, end_s, detail and its
translation detail_zh, recovery_s per
service), `services` (peak_rss_mb, cpu_s, peak_cpu_pct, restarts per service) and `timeline`
(`throughput`: [s, stored readings/s]; `emergencies`: [injected at s, latency s or None, kind]).
Missing keys are treated like None, so a partial run still renders.

    render_table(figures) -> str             plain text, keys as in the JSON
    render_report(figures, lang="zh") -> str Markdown for people ("zh" or "en")
    render_svg(figures, lang="zh") -> str    a self-contained SVG timeline, valid XML

Every user-facing word goes through CATALOG, so the two languages cannot drift apart.
"""

from __future__ import annotations

import functools
import math
from typing import Any
from xml.sax.saxutils import escape, quoteattr

LANGS = ("zh", "en")
MISSING = "—"

# The telecare benchmark the report compares against: 97.5 % of alarms answered within 60 s,
# 99 % within 180 s. (console/reports.py uses EN 50134-7's 80 % / 98.5 % for real calls.)
TARGET_60S = 0.975
TARGET_180S = 0.99

FONT = "'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', sans-serif"

CATALOG: dict[str, dict[str, str]] = {
    # punctuation and units
    "colon": {"zh": "：", "en": ": "},
    "list_sep": {"zh": "、", "en": ", "},
    "unit.homes": {"zh": "{} 户", "en": "{}"},
    "unit.minutes": {"zh": "{} 分钟", "en": "{} min"},
    "unit.speed": {"zh": "{} 倍速", "en": "{}×"},
    "unit.faults": {"zh": "{n} 次（{kinds}）", "en": "{n} ({kinds})"},
    "met": {"zh": "达到", "en": "met"},
    "not_met": {"zh": "未达到", "en": "not met"},
    "at_least": {"zh": "≥ {}", "en": "≥ {}"},
    "instant": {"zh": "瞬时", "en": "instant"},
    # report
    "title": {"zh": "anju 故障注入稳定性测试报告", "en": "anju soak test report (fault injection)"},
    "headline": {"zh": "丢失 {lost} · 紧急事件送达 {delivered}/{injected} · p99 {p99} s",
                 "en": "lost {lost} · emergencies delivered {delivered}/{injected} · p99 {p99} s"},
    "sec.run": {"zh": "测试内容", "en": "What was run"},
    "sec.results": {"zh": "结果", "en": "Results"},
    "sec.faults": {"zh": "注入的故障", "en": "Injected faults"},
    "sec.resources": {"zh": "资源占用", "en": "Resource use"},
    "run.homes": {"zh": "模拟住户", "en": "Simulated homes"},
    "run.minutes": {"zh": "计划时长", "en": "Planned length"},
    "run.duration": {"zh": "实际运行时间（分:秒）", "en": "Wall-clock run time (mm:ss)"},
    "run.speed": {"zh": "模拟速度", "en": "Simulation speed"},
    "run.seed": {"zh": "随机种子", "en": "Random seed"},
    "run.plan": {"zh": "故障计划", "en": "Fault plan"},
    "run.faults": {"zh": "注入故障", "en": "Faults injected"},
    "run.started": {"zh": "开始时间", "en": "Started at"},
    "col.figure": {"zh": "指标", "en": "Figure"},
    "col.value": {"zh": "结果", "en": "Result"},
    "col.benchmark": {"zh": "基准", "en": "Benchmark"},
    "col.verdict": {"zh": "结论", "en": "Verdict"},
    "r.published": {"zh": "发出的读数", "en": "Readings published"},
    "r.stored": {"zh": "入库的读数", "en": "Readings stored"},
    "r.lost": {"zh": "丢失的读数", "en": "Readings lost"},
    "r.duplicates": {"zh": "重复入库的读数", "en": "Duplicate readings stored"},
    "r.duplicates_sent": {"zh": "故意重复发送的读数", "en": "Duplicates sent on purpose"},
    "r.malformed_sent": {"zh": "故意发送的畸形消息", "en": "Malformed messages sent on purpose"},
    "r.quarantined": {"zh": "被隔离的消息", "en": "Messages quarantined"},
    "r.emergencies_injected": {"zh": "发生的紧急事件", "en": "Emergencies injected"},
    "r.emergencies_delivered": {"zh": "送达的紧急事件", "en": "Emergencies delivered"},
    "r.deliver_p50_s": {"zh": "送达时间 p50（秒）", "en": "Delivery time p50 (s)"},
    "r.deliver_p99_s": {"zh": "送达时间 p99（秒）", "en": "Delivery time p99 (s)"},
    "r.deliver_max_s": {"zh": "最长送达时间（秒）", "en": "Delivery time max (s)"},
    "r.delivered_within_60s": {"zh": "60 秒内送达的比例", "en": "Delivered within 60 s"},
    "r.delivered_within_180s": {"zh": "180 秒内送达的比例", "en": "Delivered within 180 s"},
    "r.emergencies_in_outage": {"zh": "故障期间发生的紧急事件",
                                "en": "Emergencies during an outage"},
    "r.in_outage_delivered": {"zh": "其中送达", "en": "of which delivered"},
    "r.in_outage_max_s_after_recovery": {"zh": "恢复后最长送达时间（秒）",
                                         "en": "Longest delivery after recovery (s)"},
    "r.acknowledged": {"zh": "已确认的紧急事件", "en": "Emergencies acknowledged"},
    "r.escalations_stopped_on_ack": {"zh": "确认后停止升级", "en": "Escalations stopped on ack"},
    "r.escalations_after_ack": {"zh": "确认后仍继续升级", "en": "Escalations after ack"},
    "r.outage_family_pages": {"zh": "因系统故障发给家属的通知",
                              "en": "Family pages caused by outages"},
    "r.false_alarms": {"zh": "误报", "en": "False alarms"},
    "r.false_alarms_per_home_day": {"zh": "每户每天误报", "en": "False alarms per home-day"},
    "r.collapses_injected": {"zh": "模拟的倒地事件", "en": "Collapses injected"},
    "r.collapses_detected": {"zh": "检出的倒地事件", "en": "Collapses detected"},
    "note.benchmark": {
        "zh": "基准：远程照护（telecare）行业基准，97.5% 的报警在 60 秒内、99% 在 180 秒内"
              "得到应答。这里的时间是从紧急事件发生到送达人员为止。",
        "en": "Benchmark: the telecare benchmark, 97.5% of alarms answered within 60 s and 99% "
              "within 180 s. Times here run from the emergency until it reached a person."},
    "note.missing": {"zh": "“—” 表示未测量。", "en": "“—” means not measured."},
    "col.fault": {"zh": "故障", "en": "Fault"},
    "col.at": {"zh": "开始（分:秒）", "en": "At (mm:ss)"},
    "col.duration": {"zh": "持续（秒）", "en": "Duration (s)"},
    "col.recovery": {"zh": "{} 恢复时间（秒）", "en": "{} recovery (s)"},
    "col.detail": {"zh": "操作", "en": "Detail"},
    "no_faults": {"zh": "本次没有注入故障。", "en": "No faults were injected."},
    "col.service": {"zh": "服务", "en": "Service"},
    "col.peak_rss_mb": {"zh": "内存峰值（MB）", "en": "Peak RSS (MB)"},
    "col.cpu_s": {"zh": "CPU 时间（秒）", "en": "CPU time (s)"},
    "col.peak_cpu_pct": {"zh": "CPU 峰值（%）", "en": "Peak CPU (%)"},
    "col.restarts": {"zh": "重启次数", "en": "Restarts"},
    "no_services": {"zh": "没有资源数据。", "en": "No resource figures."},
    # fault and emergency kinds
    "fault.kill": {"zh": "杀死 {}", "en": "kill {}"},
    "fault.broker_restart": {"zh": "代理重启", "en": "broker restart"},
    "fault.postgres_stop": {"zh": "数据库停止", "en": "database stopped"},
    "fault.network_cut": {"zh": "网络中断", "en": "network cut"},
    "fault.poison": {"zh": "恶意消息", "en": "poison messages"},
    "fault.hijack": {"zh": "冒用设备", "en": "device hijack"},
    "kind.button": {"zh": "紧急按钮", "en": "button"},
    "kind.smoke": {"zh": "烟雾报警", "en": "smoke alarm"},
    # SVG
    "svg.title": {"zh": "anju 稳定性测试 · {homes} 户 · {minutes} 分钟",
                  "en": "anju soak test · {homes} homes · {minutes} min"},
    "svg.faults": {"zh": "故障", "en": "Faults"},
    "svg.throughput": {"zh": "入库读数/秒", "en": "stored readings/s"},
    "svg.latency": {"zh": "送达时间（秒，对数）", "en": "delivery time (s, log)"},
    "svg.minutes": {"zh": "开始后的分钟数", "en": "minutes since start"},
    "svg.line60": {"zh": "60 秒", "en": "60 s"},
    "svg.within": {"zh": "60 秒内送达", "en": "delivered within 60 s"},
    "svg.late": {"zh": "超过 60 秒", "en": "later than 60 s"},
    "svg.undelivered": {"zh": "未送达", "en": "not delivered"},
    "svg.no_data": {"zh": "无数据", "en": "no data"},
    "svg.dot": {"zh": "{kind}，{at} 发生，{latency} 秒后送达",
                "en": "{kind} at {at}, delivered after {latency} s"},
    "svg.cross": {"zh": "{kind}，{at} 发生，未送达", "en": "{kind} at {at}, not delivered"},
}

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


def _t(lang: str, key: str, *args: Any, **kwargs: Any) -> str:
    return CATALOG[key][lang].format(*args, **kwargs)


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, not {lang!r}")


def _missing(v: Any) -> bool:
    # NaN too: devtools.stacks.percentile returns NaN for no values.
    return v is None or (isinstance(v, float) and not math.isfinite(v))


def _plain(v: Any) -> str:
    """A value as the JSON would show it, floats cut to 3 decimals."""
    if _missing(v):
        return MISSING
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        s = f"{v:.3f}".rstrip("0")
        return s + "0" if s.endswith(".") else s
    return str(v)


def _count(v: Any) -> str:
    if _missing(v):
        return MISSING
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.1f}"
    return f"{int(v):,}"


def _sec(v: Any) -> str:
    return MISSING if _missing(v) else f"{v:.1f}"


def _pct(v: Any) -> str:
    # Rounded down, so a share just short of a target never prints as the target itself.
    if _missing(v):
        return MISSING
    return f"{math.floor(v * 1000 + 1e-6) / 10:.1f}%"


def _short(v: Any) -> str:
    """A tick or headline number without needless decimals: 10.0 -> 10, 0.5 -> 0.5."""
    if _missing(v):
        return MISSING
    if float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:g}"


def _mmss(s: Any) -> str:
    if _missing(s):
        return MISSING
    s = max(0, round(s))
    return f"{s // 60:02d}:{s % 60:02d}"


def _fmt(v: Any, how: str) -> str:
    if how == "count":
        return _count(v)
    if how == "seconds":
        return _sec(v)
    if how == "share":
        return _pct(v)
    return MISSING if _missing(v) else f"{v:.2f}"


def _meets(share: Any, target: float) -> bool | None:
    """None when not measured, so "met" is never claimed for a missing figure."""
    if _missing(share):
        return None
    return share + 1e-9 >= target


def fault_label(kind: Any, lang: str = "zh") -> str:
    """A fault kind in words: kill_ingest -> 杀死 ingest; an unknown kind stays as it is."""
    kind = str(kind or "")
    if kind.startswith("kill_"):
        return _t(lang, "fault.kill", kind[len("kill_"):])
    key = f"fault.{kind}"
    return _t(lang, key) if key in CATALOG else kind


def _emergency_label(kind: Any, lang: str) -> str:
    key = f"kind.{kind}"
    return _t(lang, key) if key in CATALOG else str(kind or "")


def _faults(figures: dict) -> list[dict]:
    return [f for f in (figures.get("faults") or []) if isinstance(f, dict)]


def _services(figures: dict) -> dict[str, dict]:
    services = figures.get("services") or {}
    return {k: (v if isinstance(v, dict) else {}) for k, v in services.items()}


def _recovery_services(faults: list[dict]) -> list[str]:
    names: list[str] = []
    for f in faults:
        for name in (f.get("recovery_s") or {}):
            if name not in names:
                names.append(name)
    return names


def _duration(f: dict) -> float | None:
    at, end = f.get("at_s"), f.get("end_s")
    if _missing(at) or _missing(end):
        return None
    return max(0.0, end - at)


# ---------------------------------------------------------------- terminal table

def _columns(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]


def render_table(figures: dict) -> str:
    """Scalar figures as key/value pairs in two columns, then faults and services; the keys are
    the JSON's so what the terminal shows can be found in the file."""
    pairs = [(k, _plain(v)) for k, v in figures.items() if k not in NON_SCALAR
             and not isinstance(v, (dict, list))]
    # Column-major, so related figures (published, stored, lost…) read down, not across.
    half = (len(pairs) + 1) // 2
    left, right = pairs[:half], pairs[half:]
    lines = _columns([""] * 5, [[*left[i], "", *(right[i] if i < len(right) else ("", ""))]
                                for i in range(half)])[1:]

    faults = _faults(figures)
    if faults:
        names = _recovery_services(faults)
        header = ["kind", "at_s", "end_s", *(f"recovery_s.{n}" for n in names)]
        rows = [[str(f.get("kind", "")), _plain(f.get("at_s")), _plain(f.get("end_s")),
                 *(_plain((f.get("recovery_s") or {}).get(n)) for n in names)] for f in faults]
        lines += ["", "faults", *_columns(header, rows)]

    services = _services(figures)
    if services:
        cols = list(SERVICE_COLS)
        for s in services.values():
            cols += [c for c in s if c not in cols]
        rows = [[name, *(_plain(s.get(c)) for c in cols)] for name, s in services.items()]
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
    _check_lang(lang)
    t = functools.partial(_t, lang)
    colon = t("colon")
    faults = _faults(figures)

    def unit(key: str, v: Any) -> str:
        return MISSING if _missing(v) else t(key, _short(v))

    kinds = t("list_sep").join(fault_label(f.get("kind"), lang) for f in faults)
    run = [
        ("run.homes", unit("unit.homes", figures.get("homes"))),
        ("run.minutes", unit("unit.minutes", figures.get("minutes"))),
        ("run.duration", _mmss(figures.get("duration_s"))),
        ("run.speed", unit("unit.speed", figures.get("speed"))),
        ("run.seed", _plain(figures.get("seed"))),
        ("run.plan", _plain(figures.get("faults_plan"))),
        ("run.faults", t("unit.faults", n=len(faults), kinds=kinds) if faults else "0"),
        ("run.started", _plain(figures.get("started_at"))),
    ]
    out = [f"# {t('title')}", "", f"**{t('headline', **_headline_args(figures))}**", "",
           f"## {t('sec.run')}", ""]
    out += [f"- {t(key)}{colon}{_cell(value)}" for key, value in run]

    rows = []
    for key, how, target in RESULT_ROWS:
        value = figures.get(key)
        bench = verdict = ""
        if target is not None:
            bench = t("at_least", _pct(target))
            ok = _meets(value, target)
            verdict = MISSING if ok is None else t("met") if ok else f"**{t('not_met')}**"
        rows.append([t(f"r.{key}"), _fmt(value, how), bench, verdict])
    out += ["", f"## {t('sec.results')}", "",
            *_md_table([t("col.figure"), t("col.value"), t("col.benchmark"), t("col.verdict")],
                       rows),
            "", t("note.benchmark")]

    out += ["", f"## {t('sec.faults')}", ""]
    if faults:
        names = _recovery_services(faults)
        header = [t("col.fault"), t("col.at"), t("col.duration"),
                  *(t("col.recovery", _cell(n)) for n in names), t("col.detail")]
        frows = []
        for f in faults:
            d = _duration(f)
            duration = MISSING if d is None else t("instant") if d == 0 else _sec(d)
            rec = f.get("recovery_s") or {}
            frows.append([_cell(fault_label(f.get("kind"), lang)), _mmss(f.get("at_s")), duration,
                          *(_sec(rec.get(n)) for n in names),
                          _cell(f.get(f"detail_{lang}") or f.get("detail") or "")])
        out += _md_table(header, frows)
    else:
        out.append(t("no_faults"))

    out += ["", f"## {t('sec.resources')}", ""]
    services = _services(figures)
    if services:
        srows = [[_cell(name), _sec(s.get("peak_rss_mb")), _sec(s.get("cpu_s")),
                  _sec(s.get("peak_cpu_pct")), _count(s.get("restarts"))]
                 for name, s in services.items()]
        out += _md_table([t("col.service"), *(t(f"col.{c}") for c in SERVICE_COLS)], srows)
    else:
        out.append(t("no_services"))
    out += ["", t("note.missing")]
    return "\n".join(out) + "\n"


def _headline_args(figures: dict) -> dict[str, str]:
    return {"lost": _count(figures.get("lost")),
            "delivered": _count(figures.get("emergencies_delivered")),
            "injected": _count(figures.get("emergencies_injected")),
            "p99": _sec(figures.get("deliver_p99_s"))}


# ---------------------------------------------------------------- SVG timeline

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
    if not _missing(d) and d > 0:
        return float(d)
    tl = figures.get("timeline") or {}
    times = [p[0] for p in (tl.get("throughput") or []) if p and not _missing(p[0])]
    times += [e[0] for e in (tl.get("emergencies") or []) if e and not _missing(e[0])]
    for f in _faults(figures):
        times += [v for v in (f.get("at_s"), f.get("end_s")) if not _missing(v)]
    return max([60.0, *times])


def render_svg(figures: dict, lang: str = "zh") -> str:
    """A 1000x520 timeline: faults on top, stored readings per second in the middle, each
    emergency's delivery time below (undelivered ones as red crosses on the top row)."""
    _check_lang(lang)
    t = functools.partial(_t, lang)
    span = _span_s(figures)
    tl = figures.get("timeline") or {}

    def x(s: float) -> float:
        return X0 + (X1 - X0) * min(max(s, 0.0), span) / span

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'viewBox="0 0 {W} {H}" font-family="{escape(FONT)}" font-size="12" fill="#212121">',
           f'<rect width="{W}" height="{H}" fill="#ffffff"/>']
    out.append(_text(X0, 26, t("svg.title", homes=_count(figures.get("homes")),
                               minutes=_short(figures.get("minutes"))),
                     font_size=18, font_weight="bold"))
    undelivered = [e for e in (tl.get("emergencies") or []) if len(e) > 1 and _missing(e[1])]
    trouble = (not _missing(figures.get("lost")) and figures["lost"] > 0) or bool(undelivered)
    out.append(_text(X0, 48, t("headline", **_headline_args(figures)), font_size=14,
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
        out.append(_text(px, LAT[1] + 17, _short(round(m, 6)), text_anchor="middle"))
        m += step
    out.append(_text((X0 + X1) / 2 - 160, H - 12, t("svg.minutes"), text_anchor="middle",
                     fill="#616161"))

    out += _svg_faults(figures, lang, x)
    out += _svg_throughput(tl.get("throughput") or [], lang, x)
    out += _svg_emergencies(tl.get("emergencies") or [], lang, x)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _svg_faults(figures: dict, lang: str, x: Any) -> list[str]:
    out = [_text(X0 - 8, (BAND[0] + BAND[1]) / 2 + 4, _t(lang, "svg.faults"), text_anchor="end",
                 font_weight="bold")]
    for i, f in enumerate(_faults(figures)):
        at = f.get("at_s")
        if _missing(at):
            continue
        label = fault_label(f.get("kind"), lang)
        d = _duration(f)
        detail = f.get(f"detail_{lang}") or f.get("detail") or ""
        tip = " · ".join(p for p in (label, _mmss(at), str(detail)) if p)
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
    out = [_text(22, mid, _t(lang, "svg.throughput"), text_anchor="middle",
                 transform=f"rotate(-90 22 {mid:.1f})", fill="#616161")]
    pts = [(p[0], p[1]) for p in points if len(p) > 1 and not _missing(p[0])
           and not _missing(p[1])]
    if not pts:
        out.append(_text((X0 + X1) / 2, mid, _t(lang, "svg.no_data"), text_anchor="middle",
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
        out.append(_text(X0 - 6, y(v) + 4, _short(round(v, 6)), text_anchor="end"))
        v += step
    coords = " ".join(f"{x(s):.1f},{y(r):.1f}" for s, r in sorted(pts))
    out.append(f'<polyline class="throughput" points="{coords}" fill="none" stroke="{BLUE}" '
               f'stroke-width="1.5" stroke-linejoin="round"/>')
    return out


def _svg_emergencies(emergencies: list, lang: str, x: Any) -> list[str]:
    top, bottom = LAT
    cross_y, dots_top = top + 9, top + 20
    mid = (dots_top + bottom) / 2
    out = [_text(22, mid, _t(lang, "svg.latency"), text_anchor="middle",
                 transform=f"rotate(-90 22 {mid:.1f})", fill="#616161"),
           _text(X0 - 6, cross_y + 4, _t(lang, "svg.undelivered"), text_anchor="end",
                 font_size=10, fill=RED)]
    rows = [(e[0], e[1] if len(e) > 1 else None, e[2] if len(e) > 2 else "")
            for e in emergencies if e and not _missing(e[0])]
    lats = [lat for _, lat, _ in rows if not _missing(lat)]
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
            out.append(_text(X0 - 6, y(tick) + 4, _short(tick), text_anchor="end"))
    out.append(f'<line x1="{X0}" y1="{y(60):.1f}" x2="{X1}" y2="{y(60):.1f}" stroke="{RED}" '
               f'stroke-dasharray="6 4"/>')
    out.append(_text(X1 - 4, y(60) - 4, _t(lang, "svg.line60"), text_anchor="end", fill=RED,
                     font_size=11))

    for at, lat, kind in rows:
        px, what = x(at), _emergency_label(kind, lang)
        if _missing(lat):
            tip = _t(lang, "svg.cross", kind=what, at=_mmss(at))
            out.append(f'<path class="emergency undelivered" d="M{px - 4:.1f},{cross_y - 4:.1f} '
                       f'L{px + 4:.1f},{cross_y + 4:.1f} M{px - 4:.1f},{cross_y + 4:.1f} '
                       f'L{px + 4:.1f},{cross_y - 4:.1f}" stroke="{RED}" stroke-width="2">'
                       f'<title>{escape(tip)}</title></path>')
        else:
            tip = _t(lang, "svg.dot", kind=what, at=_mmss(at), latency=_sec(lat))
            out.append(f'<circle class="emergency" cx="{px:.1f}" cy="{y(lat):.1f}" r="3.5" '
                       f'fill="{GREEN if lat <= 60 else ORANGE}" fill-opacity="0.85">'
                       f'<title>{escape(tip)}</title></circle>')
    if not rows:
        out.append(_text((X0 + X1) / 2, mid, _t(lang, "svg.no_data"), text_anchor="middle",
                         fill=GREY))

    # legend, bottom right
    labels = [_t(lang, k) for k in ("svg.within", "svg.late", "svg.undelivered")]
    lx, ly = X1 - sum(_text_width(s) + 36 for s in labels) + 24, H - 12
    for color, label in ((GREEN, labels[0]), (ORANGE, labels[1])):
        out.append(f'<circle cx="{lx:.1f}" cy="{ly - 4:.1f}" r="4" fill="{color}"/>')
        out.append(_text(lx + 8, ly, label))
        lx += _text_width(label) + 36
    out.append(f'<path d="M{lx - 4:.1f},{ly - 8:.1f} L{lx + 4:.1f},{ly:.1f} M{lx - 4:.1f},'
               f'{ly:.1f} L{lx + 4:.1f},{ly - 8:.1f}" stroke="{RED}" stroke-width="2"/>')
    out.append(_text(lx + 8, ly, labels[2]))
    return out
