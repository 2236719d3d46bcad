"""The console's words in zh-CN (the default) and English, and time formatting."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from alerts.unreached import reason_text

LANGS = ("zh-CN", "en")

_WORDS: dict[str, tuple[str, str]] = {
    "app": ("安居 · 居家安全", "Anju · home safety"),
    "board": ("告警看板", "Alert board"),
    "unreached": ("无人接收", "Nobody reached"),
    "homes": ("住户", "Homes"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "bad_login": ("用户名或密码不正确。", "Wrong user name or password."),
    "too_many": ("尝试次数过多，请 {wait}后再试。",
                 "Too many attempts; try again in {wait}."),
    "seconds": ("{n} 秒", "{n} s"),
    "minutes": ("{n} 分钟", "{n} min"),
    "pw_short": ("密码至少需要 10 个字符。", "The password needs at least 10 characters."),
    "pw_refused": ("密码太容易被猜到：{reasons}。请使用系统生成的密码，或由几个不常见的词组成的较长短语。",
                   "The password is too easy to guess: {reasons}. Use a generated password, "
                   "or a longer phrase of uncommon words."),
    "pw_common": ("是常见密码", "it is a commonly used password"),
    "pw_personal": ("含有用户名或姓名", "it contains the user name or the person's name"),
    "pw_repeat": ("含有重复字符（如 aaa）", "it repeats characters (like aaa)"),
    "pw_sequence": ("含有连续序列（如 1234、abcd）", "it contains a sequence (like 1234 or abcd)"),
    "pw_keyboard": ("含有键盘上相邻的按键（如 qwerty）",
                    "it contains a run of neighbouring keys (like qwerty)"),
    "pw_date": ("含有日期或年份", "it contains a date or a year"),
    "pw_words": ("由常见的词或名字组成", "it is made of common words or names"),
    "pw_weak": ("变化太少", "it has too little variety"),
    "bad_form": ("页面已过期，请重试。", "The page expired; please try again."),
    "open_alerts": ("未处理告警", "Open alerts"),
    "no_alerts": ("当前没有未处理的告警。", "No open alerts."),
    "live": ("实时", "Live"),
    "offline_live": ("连接中断，正在重连…", "Connection lost, reconnecting…"),
    "sound_on": ("开启提示音", "Turn sound on"),
    "sound_off": ("关闭提示音", "Turn sound off"),
    "severity": ("级别", "Severity"),
    "state": ("状态", "State"),
    "home": ("住户", "Home"),
    "resident": ("老人", "Resident"),
    "address": ("地址", "Address"),
    "community": ("社区", "Community"),
    "building": ("楼栋", "Building"),
    "what": ("情况", "What"),
    "opened": ("发生时间", "Opened"),
    "waiting": ("已等待", "Waiting"),
    "since": ("起始", "Since"),
    "acknowledge": ("确认接手", "Acknowledge"),
    "resolve": ("处理完成", "Resolve"),
    "outcome": ("处理结果", "Outcome"),
    "note": ("备注", "Note"),
    "details": ("详情", "Details"),
    "evidence": ("依据", "Evidence"),
    "timeline": ("处理记录", "Timeline"),
    "escalation": ("升级通知", "Escalation"),
    "deliveries": ("通知发送", "Notifications"),
    "attempts": ("发送尝试", "Attempts"),
    "escalation_running": ("通知进行中", "escalating"),
    "escalation_stopped": ("已停止通知", "escalation stopped"),
    "escalation_finished": ("通知已完成", "escalation finished"),
    "no_escalation": ("尚无升级记录。", "No escalation yet."),
    "by": ("处理人", "By"),
    "contacts": ("联系人", "Contacts"),
    "devices": ("设备", "Devices"),
    "last_seen": ("最后上报", "Last seen"),
    "battery": ("电量", "Battery"),
    "offline": ("离线", "Offline"),
    "online": ("在线", "Online"),
    "away": ("外出", "Away"),
    "not_away": ("在家", "At home"),
    "alert_history": ("告警记录", "Alert history"),
    "activity_24h": ("各房间活动（最近 24 小时）", "Activity by room (last 24 h)"),
    "activity_7d": ("各房间活动（最近 7 天）", "Activity by room (last 7 days)"),
    "water_24h": ("用水（升，每 15 分钟）", "Water (litres per 15 min)"),
    "power_24h": ("用电（平均瓦，每 15 分钟）", "Power (mean W per 15 min)"),
    "no_data": ("暂无数据", "No data"),
    "search": ("搜索", "Search"),
    "search_hint": ("编号、姓名或地址", "code, name or address"),
    "all": ("全部", "All"),
    "status": ("状态", "Status"),
    "status_alert": ("有告警", "alert"),
    "status_offline": ("设备离线", "device offline"),
    "status_away": ("外出", "away"),
    "status_ok": ("正常", "all well"),
    "filter": ("筛选", "Filter"),
    "back": ("返回", "Back"),
    "forbidden": ("您无权查看此内容。", "You may not see this."),
    "not_found": ("找不到该内容。", "Not found."),
    "required": ("必填", "required"),
    "none": ("无", "none"),
    "new_critical": ("新的紧急告警", "New critical alert"),
    "time_zone": ("时区", "Time zone"),
    "kind": ("类型", "Kind"),
    "room": ("房间", "Room"),
    "role": ("角色", "Role"),
    "language": ("English", "中文"),
    "visits": ("探访", "Visits"),
    "visits_due": ("待探访", "Visits due"),
    "overdue_visits": ("逾期未探访", "Overdue visits"),
    "overdue": ("已逾期", "overdue"),
    "due": ("应探访", "Due"),
    "my_visits": ("我的", "Mine"),
    "all_visits": ("全部", "All"),
    "within_days": ("天内", "within days"),
    "no_visits_due": ("没有待探访的住户。", "No visits due."),
    "schedule": ("探访计划", "Visit schedule"),
    "schedules": ("探访计划", "Visit schedules"),
    "every_days": ("间隔（天）", "Every (days)"),
    "first_due": ("首次应探访日期", "First due"),
    "last_visit": ("上次探访", "Last visit"),
    "save": ("保存", "Save"),
    "record_visit": ("登记探访", "Record a visit"),
    "visit_history": ("探访记录", "Visits"),
    "visited_at": ("探访时间", "Visited at"),
    "concern": ("发现的问题", "Concern"),
    "concern_hint": ("结果为“发现问题”时必填，将生成告警", "required for a concern; opens an alert"),
    "no_schedule": ("尚无探访计划。", "No visit schedule."),
    "active": ("启用", "Active"),
    "reports": ("报表", "Reports"),
    "audit": ("审计日志", "Audit log"),
    "inbox": ("通知收件箱", "Notification inbox"),
    "usual": ("平时常有活动", "usually active"),
    "response_times": ("响应时间（紧急告警）", "Response times (critical alerts)"),
    "standard_hint": ("社会化呼叫标准：60 秒内响应 ≥ 80%，180 秒内 ≥ 98.5%",
                      "Social-alarm standard: ≥ 80 % answered within 60 s, ≥ 98.5 % within 180 s"),
    "week": ("周", "Week"),
    "critical_alerts": ("紧急告警", "Critical"),
    "within_60s": ("60 秒内", "≤ 60 s"),
    "within_180s": ("180 秒内", "≤ 180 s"),
    "unanswered": ("未响应", "Unanswered"),
    "median": ("中位数", "Median"),
    "meets": ("达标", "Meets"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "alerts_by_kind": ("各类告警数量", "Alerts by kind"),
    "count": ("数量", "Count"),
    "unresolved": ("未解决", "Unresolved"),
    "false_alarms": ("误报", "False alarms"),
    "device_health": ("设备状况", "Device health"),
    "low_battery": ("低电量", "Low battery"),
    "weeks": ("周数", "Weeks"),
    "csv": ("导出 CSV", "CSV"),
    "action": ("操作", "Action"),
    "when": ("时间", "When"),
    "who": ("用户", "User"),
    "older": ("更早", "Older"),
    "manage": ("管理", "Manage"),
    "away_set": ("标记外出", "Mark away"),
    "away_clear": ("已回家", "Back home"),
    "start": ("开始", "Start"),
    "until": ("至", "Until"),
    "reason": ("原因", "Reason"),
    "detector_settings": ("检测阈值", "Detector thresholds"),
    "settings_hint": ("每行一项，例如 inactivity.floor_min=90", "one per line, e.g. inactivity.floor_min=90"),
    "home_settings": ("本户设置", "This home's settings"),
    "add_contact": ("添加联系人", "Add a contact"),
    "urls": ("通知地址（每行一个）", "Notification URLs (one per line)"),
    "add_device": ("添加设备", "Add a device"),
    "heartbeat": ("心跳（秒）", "Heartbeat (s)"),
    "credentials_once": ("设备凭据只显示这一次，请立即记下：", "The device's credentials are shown this once; note them now:"),
    "name": ("姓名", "Name"),
    "remove": ("移除", "Remove"),
    "policies": ("升级通知策略", "Escalation policies"),
    "policy_hint": ("秒数:角色，例如 0:family,community_worker;600:property",
                    "SECONDS:roles, e.g. 0:family,community_worker;600:property"),
    "repeat_s": ("重复间隔（秒）", "Repeat (s)"),
    "source": ("来源", "Source"),
    "new_home": ("新增住户", "Add a home"),
    "edit_home": ("修改住户信息", "Edit the home"),
    "home_code": ("住户编号", "Home code"),
    "tz": ("时区", "Time zone"),
    "workers": ("社区工作人员值班", "Community workers on duty"),
    "worker": ("工作人员", "Worker"),
    "shifts": ("每周值班", "Weekly shifts"),
    "add_shift": ("添加值班", "Add a shift"),
    "days": ("星期（如 1-5、6,7）", "Days (e.g. 1-5, 6,7)"),
    "starts": ("开始", "Starts"),
    "ends": ("结束", "Ends"),
    "no_shifts": ("暂无值班", "No shifts"),
}
WEEKDAYS = ("一", "二", "三", "四", "五", "六", "日")
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SCHEDULE_KIND = {"special_needs": ("特殊困难老人定期探访", "special-needs visit"),
                 "patrol": ("巡查", "patrol")}
VISIT_OUTCOME = {"all_well": ("一切安好", "all well"), "concern": ("发现问题", "concern"),
                 "help_called": ("已呼叫救助", "help called"), "not_home": ("不在家", "not home")}

SEVERITY = {"critical": ("紧急", "critical"), "high": ("高", "high"),
            "medium": ("中", "medium"), "low": ("低", "low")}
STATE = {"open": ("待处理", "open"), "acknowledged": ("已接手", "acknowledged"),
         "resolved": ("已解决", "resolved")}
OUTCOME = {
    "visited_all_well": ("上门查看 — 一切安好", "visited — all well"),
    "visited_help_called": ("上门查看 — 已呼叫救助", "visited — help called"),
    "reached_by_phone": ("电话联系上", "reached by phone"),
    "false_alarm": ("误报", "false alarm"),
    "device_fault": ("设备故障", "device fault"),
    "condition_cleared": ("情况已自行解除", "condition cleared"),
}
PERSON_OUTCOMES = ("visited_all_well", "visited_help_called", "reached_by_phone",
                   "false_alarm", "device_fault")
KIND = {
    "inactivity": ("长时间无活动", "no activity"), "smoke": ("烟雾报警", "smoke"),
    "gas": ("燃气报警", "gas"), "leak": ("漏水", "water leak"), "button": ("紧急按钮", "button"),
    "water_running": ("持续用水", "water running"), "no_water": ("全天未用水", "no water used"),
    "door_left_open": ("门未关", "door left open"), "power_high": ("持续大功率用电", "power high"),
    "power_flat": ("用电异常平稳", "power flat"), "home_silent": ("家中无动静", "home silent"),
    "night_wandering": ("夜间走动", "night wandering"), "not_back": ("外出未归", "not back"),
    "activity_decline": ("活动量下降", "activity decline"), "prealarm": ("预警", "pre-alarm"),
    "sensor_dead": ("传感器无响应", "sensor dead"), "device_offline": ("设备离线", "device offline"),
    "battery_low": ("电量低", "low battery"),
    "visit_concern": ("探访发现问题", "visit concern"),
}
ROLE = {"admin": ("管理员", "admin"), "operator": ("社区工作人员", "community operator"),
        "property": ("物业", "property management"), "family": ("家属", "family"),
        "community_worker": ("社区工作人员", "community worker")}
ROOM = {"bedroom": ("卧室", "bedroom"), "living_room": ("客厅", "living room"),
        "kitchen": ("厨房", "kitchen"), "bathroom": ("浴室", "bathroom"),
        "toilet": ("卫生间", "toilet"), "entrance": ("门口", "entrance"),
        "hallway": ("走廊", "hallway"), "dining_room": ("餐厅", "dining room"),
        "study": ("书房", "study"), "balcony": ("阳台", "balcony"), "other": ("其他", "other")}


def pick_lang(cookie: str | None, accept: str | None = None) -> str:
    """The cookie decides; zh-CN otherwise (the console's users read Chinese first)."""
    return cookie if cookie in LANGS else "zh-CN"


class Words:
    """Bound to one language: `w("board")`, `w.severity("critical")`, `w.time(dt, tz)`."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGS else "zh-CN"
        self._i = 0 if self.lang == "zh-CN" else 1

    def __call__(self, key: str) -> str:
        pair = _WORDS.get(key)
        return pair[self._i] if pair else key

    def _of(self, table: dict[str, tuple[str, str]], key: str | None) -> str:
        if key is None:
            return ""
        pair = table.get(key)
        return pair[self._i] if pair else key

    def unreached(self, reason: str | None, detail: str | None) -> str:
        """Why an alert reached nobody (the words are alerts.unreached's, for the messages
        to operators and the board alike)."""
        return reason_text(reason or "", detail, self.lang)

    def severity(self, k: str) -> str:
        return self._of(SEVERITY, k)

    def state(self, k: str) -> str:
        return self._of(STATE, k)

    def outcome(self, k: str | None) -> str:
        return self._of(OUTCOME, k)

    def kind(self, k: str) -> str:
        return self._of(KIND, k)

    def role(self, k: str) -> str:
        return self._of(ROLE, k)

    def weekday(self, d: int) -> str:
        """ISO weekday (1 = Monday)."""
        return ("周" + WEEKDAYS[d - 1]) if self._i == 0 else WEEKDAYS_EN[d - 1]

    def room(self, k: str) -> str:
        return self._of(ROOM, k)

    def schedule_kind(self, k: str | None) -> str:
        return self._of(SCHEDULE_KIND, k)

    def visit_outcome(self, k: str | None) -> str:
        return self._of(VISIT_OUTCOME, k)

    def time(self, dt: datetime | None, tz: str = "Asia/Shanghai", *, seconds: bool = False) -> str:
        """A moment in the home's time zone; the date only when it is not today there."""
        if dt is None:
            return "—"
        zone = ZoneInfo(tz)
        local = dt.astimezone(zone)
        today = datetime.now(zone).date()
        clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
        if local.date() == today:
            return clock
        return f"{local:%m-%d} {clock}" if local.year == today.year else f"{local:%Y-%m-%d} {clock}"

    def ago(self, dt: datetime | None, now: datetime) -> str:
        if dt is None:
            return "—"
        s = max(0, int((now - dt).total_seconds()))
        if s < 60:
            return f"{s} 秒" if self._i == 0 else f"{s} s"
        m = s // 60
        if m < 60:
            return f"{m} 分钟" if self._i == 0 else f"{m} min"
        h, m = divmod(m, 60)
        if h < 48:
            return f"{h} 小时 {m} 分" if self._i == 0 else f"{h} h {m} min"
        return f"{h // 24} 天" if self._i == 0 else f"{h // 24} days"
