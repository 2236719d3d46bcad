"""Plain words for findings, in zh-CN and en, built from the finding's evidence.

render(kind, state, evidence) -> {"zh-CN": ..., "en": ...}. Every sentence is
made of the evidence's own values, so the words never say more than the data.
"""

from __future__ import annotations

ROOMS = {
    "bedroom": ("卧室", "the bedroom"), "living_room": ("客厅", "the living room"),
    "kitchen": ("厨房", "the kitchen"), "bathroom": ("卫生间", "the bathroom"),
    "toilet": ("厕所", "the toilet"), "entrance": ("门厅", "the entrance"),
    "hallway": ("走廊", "the hallway"), "dining_room": ("餐厅", "the dining room"),
    "study": ("书房", "the study"), "balcony": ("阳台", "the balcony"), "other": ("家中", "the home"),
}

REASONS = {
    "moved": ("已恢复活动", "moved again"), "back_home": ("已回家", "back home"),
    "away_cleared": ("外出状态已取消", "away was cleared"),
    "devices_back": ("设备恢复通信", "the devices report again"),
    "device_back": ("设备恢复通信", "the device reports again"),
    "alarm_reset": ("报警已解除", "the alarm reset"), "closed": ("门已关上", "the door was closed"),
    "water_used": ("已重新用水", "water was used again"), "stopped": ("水流已停止", "the flow stopped"),
    "load_off": ("负载已关闭", "the load went off"), "switched_on": ("有电器被打开", "an appliance was switched on"),
    "battery_replaced": ("电量已恢复", "the battery was replaced"),
    "triggered": ("传感器重新触发", "the sensor triggered again"),
    "recovered": ("活动量已恢复", "activity recovered"),
    "cancelled_by_resident": ("老人按键取消", "cancelled by the resident's button"),
}


def _dur(minutes: object) -> tuple[str, str]:
    m = int(minutes) if isinstance(minutes, (int, float)) else 0
    h, mm = divmod(m, 60)
    if h:
        return (f"{h}小时{mm}分钟" if mm else f"{h}小时"), (f"{h} h {mm} min" if mm else f"{h} h")
    return f"{mm}分钟", f"{mm} min"


def _room(r: object) -> tuple[str, str]:
    return ROOMS.get(str(r), (str(r), str(r)))


def _still(e: dict) -> tuple[str, str]:
    zr, er = _room(e.get("last_room"))
    zd, ed = _dur(e.get("still_min"))
    zt, et = _dur(e.get("threshold_min"))
    if e.get("came_home"):
        zh = f"{e.get('last_activity')}回家进门后无活动，已{zd}"
        en = f"No sign of life since coming home at {e.get('last_activity')} ({ed})"
    else:
        zh = f"自{e.get('last_activity')}（{zr}）起无活动，已{zd}"
        en = f"No sign of life since {e.get('last_activity')} in {er} ({ed})"
    if e.get("learned") and e.get("asleep_until"):
        zh += f"；在床上的夜间静止，平时最晚{e['asleep_until']}起床"
        en += f"; still in bed at night, and usually up by {e['asleep_until']} at the latest"
    elif e.get("learned") and e.get("threshold_room"):
        zh += f"；此时段在{zr}活动之后，平时静止不超过{zt}"
        en += f"; at this time of day the stillness after activity in {er} usually stays under {et}"
    elif e.get("learned"):
        zh += f"；此时段平时最长静止约在{zt}以内"
        en += f"; at this time of day the usual stillness stays under {et}"
    else:
        zh += f"；尚在学习期，按默认{zt}判断"
        en += f"; still learning this home, default limit {et}"
    if "usual_up" in e:
        zh += f"；通常{e['usual_up']}±{e.get('usual_up_sd_min')}分钟起床"
        en += f"; usually up by {e['usual_up']} ± {e.get('usual_up_sd_min')} min"
    if "last_water" in e:
        zh += f"；{e['last_water']}以来未用水"
        en += f"; no water since {e['last_water']}"
    return zh + "。", en + "."


def _open(kind: str, e: dict) -> tuple[str, str]:
    if kind == "inactivity":
        return _still(e)
    if kind == "prealarm":
        zh, en = _still(e)
        m = e.get("minutes")
        return (f"预警：{zh}如无异常，请在{m}分钟内按下紧急按钮取消。",
                f"Pre-alarm: {en} Press the button within {m} min to cancel.")
    if kind == "not_back":
        if "reason" in e:
            return (f"外出（{e['reason']}）预计{e.get('expected_back')}回家，已超过{e.get('grace_min')}分钟仍未回来。",
                    f"Away ({e['reason']}), expected back by {e.get('expected_back')}; not back "
                    f"{e.get('grace_min')} min later.")
        zd, ed = _dur(e.get("away_min"))
        zu, eu = _dur(e.get("usual_max_min"))
        return (f"{e.get('left_at')}出门，已{zd}未回家；此时段平时外出不超过{zu}。",
                f"Left at {e.get('left_at')} and not back after {ed}; at this time of day "
                f"usually back within {eu}.")
    if kind == "no_water":
        return (f"{e.get('hours')}小时内仅用水{e.get('litres')}升（低于{e.get('limit_l')}升），最后用水{e.get('last_water')}。",
                f"Only {e.get('litres')} L of water in {e.get('hours')} h (limit {e.get('limit_l')} L); "
                f"last use {e.get('last_water')}.")
    if kind == "water_running":
        zd, ed = _dur(e.get("running_min"))
        return (f"自{e.get('since_time')}起持续用水已{zd}，可能漏水或水龙头未关。",
                f"Water has been running since {e.get('since_time')} ({ed}): a leak or a tap left open?")
    if kind == "power_high":
        zd, ed = _dur(e.get("running_min"))
        zu, eu = _dur(e.get("usual_max_min"))
        return (f"约{e.get('watts')}瓦的大功率负载自{e.get('since_time')}起已持续{zd}（平时最长{zu}），可能灶具未关。",
                f"A high load of about {e.get('watts')} W since {e.get('since_time')} ({ed}; usually at "
                f"most {eu}): stove left on?")
    if kind == "power_flat":
        return (f"{e.get('hours')}小时内没有任何电器被打开（最后一次{e.get('last_switch')}）。",
                f"No appliance switched on for {e.get('hours')} h (last at {e.get('last_switch')}).")
    if kind == "door_left_open":
        return (f"入户门自{e.get('since_time')}起一直开着（{e.get('open_min')}分钟）。",
                f"The entrance door has been open since {e.get('since_time')} ({e.get('open_min')} min).")
    if kind == "night_wandering":
        return (f"夜间{e.get('at_time')}入户门被打开。", f"The entrance door was opened at night, {e.get('at_time')}.")
    if kind == "device_offline":
        return (f"设备已错过{e.get('missed_heartbeats')}次心跳（最后通信{e.get('last_seen')}），家中其他{e.get('others_reporting')}个设备仍正常。",
                f"The device missed {e.get('missed_heartbeats')} heartbeats (last seen {e.get('last_seen')}); "
                f"{e.get('others_reporting')} other devices of the home still report.")
    if kind == "home_silent":
        return (f"自{e.get('since_time')}起全屋{e.get('devices')}个设备同时失联：网关断线或停电？",
                f"All {e.get('devices')} devices of the home silent since {e.get('since_time')}: gateway or power cut?")
    if kind == "battery_low":
        return (f"设备电量{e.get('battery_pct')}%，低于{e.get('limit_pct')}%，请更换电池。",
                f"Battery at {e.get('battery_pct')}% (below {e.get('limit_pct')}%): replace it.")
    if kind == "sensor_dead":
        return (f"该人体传感器已{e.get('days')}天未触发（最后{e.get('last_trigger')}），"
                f"其间{e.get('days_with_life')}天其他设备显示有人在家活动。",
                f"This motion sensor has not triggered for {e.get('days')} days (last {e.get('last_trigger')}) "
                f"although other sensors showed someone at home on {e.get('days_with_life')} of "
                "them.")
    if kind == "activity_decline":
        return (f"近{e.get('days')}天平均每天活动{e.get('mean_per_day')}次，平时约{e.get('usual_per_day')}次。",
                f"Activity over the last {e.get('days')} days averages {e.get('mean_per_day')} a day; "
                f"usually {e.get('usual_per_day')}.")
    zr, er = _room(e.get("room"))
    names = {"smoke": ("烟雾报警", "Smoke alarm"), "gas": ("燃气报警", "Gas alarm"),
             "leak": ("漏水报警", "Water leak"), "button": ("紧急按钮被按下", "Emergency button pressed")}
    zn, en = names.get(kind, (kind, kind))
    late = e.get("device_hhmm")
    if late and isinstance(e.get("late_s"), (int, float)):
        m = int(e["late_s"] // 60)
        return (f"{zn}（{zr}），设备时间{late}，晚{m}分钟送达。",
                f"{en} in {er} at {late} by the device's clock, received {m} min later.")
    return f"{zn}（{zr}）。", f"{en} in {er}."


def render(kind: str, state: str, evidence: dict) -> dict[str, str]:
    if state == "open":
        zh, en = _open(kind, evidence)
    else:
        reason = str(evidence.get("reason"))
        late = reason == "late_data"     # what ended it happened before the alert, seen late
        if late:
            reason = str(evidence.get("seen_reason"))
        zr, er = REASONS.get(reason, (reason,) * 2)
        at = evidence.get("at_time")
        where = evidence.get("room")
        zh = f"已解除（迟到的数据）：{zr}" if late else f"已解除：{zr}"
        en = f"Cleared (late data): {er}" if late else f"Cleared: {er}"
        if where:
            zw, ew = _room(where)
            zh += f"（{zw}）"
            en += f" in {ew}"
        if at:
            zh += f"，{at}"
            en += f" at {at}"
        zh, en = zh + "。", en + "."
    return {"zh-CN": zh, "en": en}
