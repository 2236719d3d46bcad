"""Replay of recorded logs: mapped Events -> homes to provision and streams to publish."""

from __future__ import annotations

from simulators.formats import Event, slug
from simulators.homes import DeviceSpec, HomeProfile

# reading kind -> device kind to register
DEVICE_KIND = {"motion": "motion", "door": "door", "contact": "contact", "presence": "presence",
               "water": "water", "power": "power", "energy": "power", "smoke": "smoke",
               "gas": "gas", "leak": "leak", "button": "button", "temperature": "temperature"}


def value_text(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def homes_from_events(events: list[Event], default_home: str, tz: str
                      ) -> tuple[list[HomeProfile], dict[str, list[tuple]]]:
    """Home profiles (one device per recorded device) and per-home event tuples.

    Tuples are (epoch seconds float, device index, kind, value text), in the
    order of `events` (which must be in time order).
    """
    devices: dict[str, dict[str, DeviceSpec]] = {}
    per_home: dict[str, list[tuple]] = {}
    index: dict[tuple[str, str], int] = {}
    for e in events:
        code = e.home or default_home
        devs = devices.setdefault(code, {})
        key = (code, e.device)
        i = index.get(key)
        if i is None:
            kind = e.kind or "contact"
            dkind = DEVICE_KIND.get(kind, "contact") if kind != "heartbeat" else "contact"
            name = slug(e.device)
            uid = name if name.startswith(code + "-") else f"{code}-{name}"
            devs[e.device] = DeviceSpec(name=name, kind=dkind, room=e.room or "other", uid=uid[:64])
            i = index[key] = len(devs) - 1
        per_home.setdefault(code, []).append((e.ts.timestamp(), i, e.kind, value_text(e.value)))
    profiles = [HomeProfile(code=code, tz=tz, persona="recorded", profile="replay",
                            devices=tuple(devs.values()), seed=0)
                for code, devs in devices.items()]
    return profiles, per_home
