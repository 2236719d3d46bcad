"""Home profiles: which devices are installed in which rooms, and who lives there.

Every simulated flat has the same five places (bedroom, living room, kitchen,
bathroom with the toilet, entrance); which of them a sensor watches depends
on the installation profile, as in real deployments where not every home
gets every sensor.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from simulators import personas

# Devices that run on batteries drain; meters are mains powered.
BATTERY_KINDS = frozenset({"motion", "door", "contact", "presence", "smoke", "gas", "leak",
                           "button"})


@dataclass(frozen=True, kw_only=True)
class DeviceSpec:
    name: str          # name inside the home, also the gateway's external name ("motion-kitchen")
    kind: str          # device kind (anju.contract.DEVICE_KINDS)
    room: str
    role: str = ""     # what it watches: "fridge", "cupboard", "bed", "entrance", "mains", ...
    battery0: float = 100.0       # battery at the start of the simulation (100 for mains)
    drain_per_day: float = 0.0    # percentage points a day
    hb_offset: int = 0            # second within the 15-minute heartbeat period
    tick_offset: int = 0          # second within the minute a meter reports
    rssi: int = -60
    uid: str = ""                 # broker user / device uid; filled by HomeProfile

    @property
    def mains(self) -> bool:
        return self.kind not in BATTERY_KINDS


@dataclass(frozen=True, kw_only=True)
class HomeProfile:
    code: str
    tz: str
    persona: str
    profile: str
    devices: tuple[DeviceSpec, ...]
    seed: int
    standby_w: float = 40.0        # always-on load (router, standby electronics)
    fridge_w: float = 90.0         # fridge compressor when running
    base_water_l: float = 0.0      # meter total at the start
    base_energy_wh: float = 0.0

    def device(self, name: str) -> DeviceSpec | None:
        for d in self.devices:
            if d.name == name:
                return d
        return None

    def index(self, name: str) -> int:
        for i, d in enumerate(self.devices):
            if d.name == name:
                return i
        raise KeyError(name)

    def to_json(self) -> dict:
        d = asdict(self)
        d["devices"] = [asdict(x) for x in self.devices]
        return d

    @classmethod
    def from_json(cls, d: dict) -> "HomeProfile":
        d = dict(d)
        d["devices"] = tuple(DeviceSpec(**x) for x in d["devices"])
        return cls(**d)


# profile name -> (weight, [(device kind, room, role)])
_BASIC = [("door", "entrance", "entrance"), ("motion", "living_room", ""),
          ("motion", "bedroom", ""), ("power", "other", "mains"), ("button", "bedroom", "")]
_STANDARD = _BASIC + [("motion", "kitchen", ""), ("motion", "bathroom", ""),
                      ("water", "kitchen", "mains"), ("contact", "kitchen", "fridge"),
                      ("smoke", "kitchen", "")]
_FULL = _STANDARD + [("presence", "bedroom", "bed"), ("contact", "kitchen", "cupboard"),
                     ("motion", "entrance", ""), ("leak", "bathroom", ""), ("gas", "kitchen", "")]
PROFILES: dict[str, tuple[float, list[tuple[str, str, str]]]] = {
    "basic": (0.2, _BASIC),
    "basic_water": (0.15, _BASIC + [("water", "kitchen", "mains")]),
    "standard": (0.4, _STANDARD),
    "full": (0.25, _FULL),
}


def device_name(kind: str, room: str, role: str) -> str:
    if role and role not in ("mains", "entrance"):
        return f"{kind}-{role}"
    if kind in ("water", "power") or role == "entrance":
        return kind
    return f"{kind}-{room}".replace("_", "-")


def make_home(rng: random.Random, code: str, *, tz: str = "Asia/Shanghai",
              persona: str | None = None, profile: str | None = None) -> HomeProfile:
    """A random home: persona, installation profile, device offsets and batteries."""
    if persona is None:
        persona = rng.choice(sorted(personas.PERSONAS))
    personas.get(persona)
    if profile is None:
        names = list(PROFILES)
        profile = rng.choices(names, weights=[PROFILES[n][0] for n in names])[0]
    if profile not in PROFILES:
        raise ValueError(f"profile {profile!r}: expected one of {', '.join(PROFILES)}")
    devices = []
    for kind, room, role in PROFILES[profile][1]:
        name = device_name(kind, room, role)
        battery = kind in BATTERY_KINDS
        devices.append(DeviceSpec(
            name=name, kind=kind, room=room, role=role,
            battery0=round(rng.uniform(55, 100), 1) if battery else 100.0,
            drain_per_day=round(rng.uniform(0.03, 0.15), 3) if battery else 0.0,
            hb_offset=rng.randrange(900), tick_offset=rng.randrange(60),
            rssi=rng.randrange(-85, -45), uid=f"{code}-{name}"))
    return HomeProfile(
        code=code, tz=tz, persona=persona, profile=profile, devices=tuple(devices),
        seed=rng.getrandbits(63), standby_w=round(rng.uniform(25, 70), 1),
        fridge_w=round(rng.uniform(70, 130), 1),
        base_water_l=round(rng.uniform(0, 200_000), 1),
        base_energy_wh=round(rng.uniform(0, 5_000_000), 1))


def make_fleet(n: int, seed: int, *, prefix: str = "sim", tz: str = "Asia/Shanghai",
               persona_names: list[str] | None = None) -> list[HomeProfile]:
    """N homes, reproducible from the seed; personas cycle through persona_names if given."""
    rng = random.Random(f"fleet:{seed}")
    homes = []
    for i in range(n):
        persona = persona_names[i % len(persona_names)] if persona_names else None
        homes.append(make_home(rng, f"{prefix}-{i + 1:05d}", tz=tz, persona=persona))
    return homes
