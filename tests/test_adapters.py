"""zigbee2mqtt, Tasmota and Shelly payloads become anju readings (pure decoding)."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

from anju.contract import Kind
from ingest.decode import decode
from ingest.message import device_ref

NOW_US = time.time_ns() // 1000


class Reg:
    def __init__(self, *devs, gateway=None):
        self.by_uid = {d.uid: d for d in devs}
        self.behind = {}
        self.gateway = gateway

    def device(self, uid):
        return self.by_uid.get(uid)

    def behind_gateway(self, gw, name):
        return self.behind.get((gw, name))


def _z2m_registry():
    gw = device_ref(1, "gw1", 10, "gateway")
    door = device_ref(2, "gw1.front_door", 10, "door")
    pir = device_ref(3, "gw1.pir_bedroom", 10, "motion")
    plug = device_ref(4, "gw1.kettle", 10, "power")
    sos = device_ref(5, "gw1.sos", 10, "button")
    reg = Reg(gw)
    reg.behind = {("gw1", "front_door"): door, ("gw1", "pir bedroom"): pir,
                  ("gw1", "kettle"): plug, ("gw1", "sos"): sos}
    return reg


def test_z2m_contact_sensor_open_door():
    """Aqara door sensor (MCCGQ11LM): contact=false means the door is open."""
    payload = (b'{"battery":91,"contact":false,"device_temperature":24,"linkquality":120,'
               b'"voltage":3025,"last_seen":%d}' % (NOW_US // 1000 - 500))
    out = decode("anju/v1/z2m/gw1/front_door", payload, _z2m_registry(), NOW_US)
    assert out.reject is None
    assert [(r[2], r[3], r[4]) for r in out.rows] == [(1.0, 2, int(Kind.DOOR))]
    assert out.rows[0][0] == NOW_US // 1000 * 1000 - 500_000
    assert out.status.battery == 91.0


def test_z2m_occupancy_with_space_in_name_and_plug_energy():
    """Philips Hue motion (9290012607) and a metering plug (energy in kWh)."""
    reg = _z2m_registry()
    out = decode("anju/v1/z2m/gw1/pir bedroom",
                 b'{"occupancy":true,"illuminance_lux":12,"battery":100,"temperature":21.5}',
                 reg, NOW_US)
    assert [(r[2], r[4]) for r in out.rows] == [(1.0, int(Kind.MOTION))]  # no temperature kind
    out = decode("anju/v1/z2m/gw1/kettle",
                 b'{"power":1850.4,"energy":12.34,"state":"ON","voltage":229}', reg, NOW_US)
    assert sorted((r[4], r[2]) for r in out.rows) == [(int(Kind.POWER), 1850.4),
                                                      (int(Kind.ENERGY), 12340.0)]


def test_z2m_button_bridge_and_availability():
    reg = _z2m_registry()
    out = decode("anju/v1/z2m/gw1/sos", b'{"action":"emergency","battery":80}', reg, NOW_US)
    assert [(r[2], r[4]) for r in out.rows] == [(1.0, int(Kind.BUTTON))]
    assert decode("anju/v1/z2m/gw1/bridge/logging", b'{"level":"info"}', reg, NOW_US).ignored
    st = decode("anju/v1/z2m/gw1/bridge/state", b'{"state":"offline"}', reg, NOW_US).status
    assert st.device_id == 1 and st.online is False
    av = decode("anju/v1/z2m/gw1/front_door/availability", b'{"state":"offline"}', reg, NOW_US)
    assert av.status.device_id == 2 and av.status.online is False
    unknown = decode("anju/v1/z2m/gw1/stranger", b'{"contact":true}', reg, NOW_US)
    assert unknown.unknown_device and "stranger" in unknown.reject


def test_tasmota_energy_uses_local_time_of_home():
    """A Tasmota plug's tele/SENSOR: Time is local wall clock of the home."""
    plug = device_ref(7, "plug-1", 10, "power", "Asia/Shanghai")
    local = datetime.now(ZoneInfo("Asia/Shanghai")).replace(microsecond=0)
    payload = (b'{"Time":"%s","ENERGY":{"TotalStartTime":"2026-01-01T00:00:00","Total":3.215,'
               b'"Yesterday":0.5,"Today":0.12,"Period":2,"Power":1530,"ApparentPower":1540,'
               b'"ReactivePower":30,"Factor":0.99,"Voltage":230,"Current":6.6}}'
               % local.replace(tzinfo=None).isoformat().encode())
    out = decode("anju/v1/tasmota/plug-1/tele/SENSOR", payload, Reg(plug), NOW_US)
    assert out.reject is None
    assert sorted((r[4], r[2]) for r in out.rows) == [(int(Kind.POWER), 1530.0),
                                                      (int(Kind.ENERGY), 3215.0)]
    assert out.rows[0][0] == int(local.timestamp()) * 1_000_000
    lwt = decode("anju/v1/tasmota/plug-1/tele/LWT", b"Offline", Reg(plug), NOW_US)
    assert lwt.status.online is False
    state = decode("anju/v1/tasmota/plug-1/tele/STATE",
                   b'{"Time":"x","Uptime":"0T01:00:00","Wifi":{"RSSI":70,"Signal":-65}}',
                   Reg(plug), NOW_US)
    assert state.status.rssi == -65.0 and not state.rows


def test_shelly_plus_plug_status_is_idempotent():
    """Shelly Plus Plug S status/switch:0; the same message twice gives the same key."""
    plug = device_ref(8, "shelly-1", 10, "power")
    minute = NOW_US // 60_000_000 * 60
    payload = (b'{"id":0,"source":"timer","output":true,"apower":812.3,"voltage":229.1,'
               b'"current":3.6,"aenergy":{"total":15234.12,"by_minute":[120.1,118.9,119.0],'
               b'"minute_ts":%d},"temperature":{"tC":41.2,"tF":106.2}}' % minute)
    a = decode("anju/v1/shelly/shelly-1/status/switch:0", payload, Reg(plug), NOW_US)
    b = decode("anju/v1/shelly/shelly-1/status/switch:0", payload, Reg(plug), NOW_US + 5_000_000)
    assert a.reject is None and a.rows == b.rows
    assert sorted((r[4], r[2]) for r in a.rows) == [(int(Kind.POWER), 812.3),
                                                    (int(Kind.ENERGY), 15234.12)]
    assert decode("anju/v1/shelly/shelly-1/online", b"false", Reg(plug), NOW_US).status.online is False


def test_adapter_bad_payload_is_rejected_with_reason():
    plug = device_ref(8, "shelly-1", 10, "power")
    out = decode("anju/v1/shelly/shelly-1/status/switch:0", b'{"apower":"lots"}', Reg(plug), NOW_US)
    assert out.reject and out.reject.startswith("Shelly payload")
    out = decode("anju/v1/shelly/shelly-1/status/switch:0", b'{"apower":-5}', Reg(plug), NOW_US)
    assert "out of range" in out.reject
