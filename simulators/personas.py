"""Personas: the rhythm of a resident's days, as parameters of the routine.

Times are hours after local midnight (25.0 = 01:00 the next night). Every
parameter is a mean or a probability; resident.py draws each day from them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, kw_only=True)
class Persona:
    name: str
    description: str
    wake_mean: float            # hour of getting up on a weekday
    wake_sd: float              # day-to-day spread (hours)
    bed_mean: float             # hour of going to bed (may exceed 24)
    bed_sd: float
    weekend_shift: float        # hours later at the weekend (both wake and bed)
    night_toilet_mean: float    # Poisson mean of toilet visits per night
    meal_times: tuple[float, float, float]   # breakfast, lunch, dinner
    meal_sd: float              # spread of meal times (hours)
    meal_skip: float            # probability a given meal is skipped
    cook_prob: float            # probability a meal is cooked (stove/rice cooker, more water)
    shower_prob: float          # probability of a shower on a given day
    shower_evening: float       # probability the shower is in the evening (else morning)
    outings_mean: float         # Poisson mean of outings per day
    outing_hours: float         # mean length of an outing
    nap_prob: float
    nap_hours: float
    tv_hours: float             # mean hours of television a day
    activity: float             # multiplier on how much the resident moves (PIR trigger rate)
    visitors_per_week: float
    night_wander_prob: float = 0.0   # probability of a night-time wander (dementia)
    wander_door_prob: float = 0.0    # probability that a wander opens the entrance door
    forget_prob: float = 0.0         # probability of leaving a tap or appliance on a while
    # per-meal skip probabilities (breakfast, lunch, dinner) on top of meal_skip: a resident
    # who stops eating properly skips the same meals day after day
    meal_skip_each: tuple[float, float, float] = (0.0, 0.0, 0.0)


PERSONAS: dict[str, Persona] = {p.name: p for p in [
    Persona(
        name="early_riser",
        description="regular early riser: up at six, three meals at fixed times, a morning walk",
        wake_mean=6.0, wake_sd=0.35, bed_mean=21.5, bed_sd=0.4, weekend_shift=0.25,
        night_toilet_mean=1.2, meal_times=(6.8, 11.7, 17.8), meal_sd=0.35, meal_skip=0.03,
        cook_prob=0.75, shower_prob=0.6, shower_evening=0.3, outings_mean=1.4,
        outing_hours=1.6, nap_prob=0.55, nap_hours=0.8, tv_hours=3.0, activity=1.0,
        visitors_per_week=1.5),
    Persona(
        name="night_owl",
        description="night owl: late to bed, late to rise, television into the night",
        wake_mean=9.0, wake_sd=0.8, bed_mean=24.8, bed_sd=0.8, weekend_shift=0.6,
        night_toilet_mean=0.8, meal_times=(9.8, 13.5, 19.5), meal_sd=0.6, meal_skip=0.12,
        cook_prob=0.5, shower_prob=0.55, shower_evening=0.8, outings_mean=0.9,
        outing_hours=2.2, nap_prob=0.2, nap_hours=0.7, tv_hours=5.0, activity=0.9,
        visitors_per_week=1.0),
    Persona(
        name="frail",
        description="frail, low activity: long still periods, few outings, more night toilet visits",
        wake_mean=7.2, wake_sd=0.6, bed_mean=20.8, bed_sd=0.6, weekend_shift=0.1,
        night_toilet_mean=2.2, meal_times=(7.8, 12.0, 17.5), meal_sd=0.5, meal_skip=0.1,
        cook_prob=0.35, shower_prob=0.3, shower_evening=0.4, outings_mean=0.25,
        outing_hours=1.0, nap_prob=0.85, nap_hours=1.6, tv_hours=4.0, activity=0.45,
        visitors_per_week=2.5),
    Persona(
        name="dementia",
        description="mild dementia: irregular meals and sleep, night-time wandering, door opened at night",
        wake_mean=7.0, wake_sd=1.3, bed_mean=21.8, bed_sd=1.2, weekend_shift=0.0,
        night_toilet_mean=1.8, meal_times=(8.0, 12.5, 18.0), meal_sd=1.3, meal_skip=0.22,
        cook_prob=0.4, shower_prob=0.3, shower_evening=0.5, outings_mean=0.7,
        outing_hours=1.2, nap_prob=0.6, nap_hours=1.2, tv_hours=3.5, activity=0.9,
        visitors_per_week=3.0, night_wander_prob=0.3, wander_door_prob=0.35, forget_prob=0.08),
]}


def get(name: str) -> Persona:
    try:
        return PERSONAS[name]
    except KeyError:
        raise ValueError(f"persona {name!r}: expected one of {', '.join(PERSONAS)}") from None


def ill(p: Persona, fraction: float) -> Persona:
    """The same person while ill: less activity by `fraction`, later up and earlier to bed
    (more time in bed), more night toilet visits, fewer meals and outings."""
    keep = 1.0 - fraction
    return replace(
        p, activity=p.activity * keep, wake_mean=p.wake_mean + 1.5 * fraction * 2,
        bed_mean=p.bed_mean - 1.5 * fraction,
        night_toilet_mean=p.night_toilet_mean * (1 + 1.5 * fraction) + 1.0,
        meal_skip=min(0.9, p.meal_skip + 0.6 * fraction), cook_prob=p.cook_prob * keep,
        shower_prob=p.shower_prob * keep * 0.5, outings_mean=p.outings_mean * keep * 0.2,
        nap_prob=min(1.0, p.nap_prob + fraction), nap_hours=p.nap_hours * (1 + 2 * fraction),
        tv_hours=p.tv_hours * keep, visitors_per_week=p.visitors_per_week * keep)


def declined(p: Persona, level: float) -> Persona:
    """The same person after a gradual decline by `level` (0..1): moves less, eats fewer and
    plainer meals, goes out less, showers less, gets up later."""
    keep = 1.0 - level
    return replace(
        p, activity=p.activity * keep, wake_mean=p.wake_mean + 1.5 * level,
        meal_skip=min(0.9, p.meal_skip + 0.5 * level), cook_prob=p.cook_prob * keep,
        shower_prob=p.shower_prob * keep, outings_mean=p.outings_mean * max(0.0, 1 - 1.5 * level),
        nap_prob=min(1.0, p.nap_prob + level), tv_hours=p.tv_hours * (1 + level))
