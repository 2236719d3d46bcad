"""Whether a new console password is too easy to guess, and what is wrong with it.

zxcvbn estimates how many guesses a password needs, knowing common passwords,
words and names, repeats, sequences, keyboard runs and dates. A console account
sees where elderly people live alone and when nobody is home, so a password
must reach MIN_SCORE (3: "safely unguessable" against an offline attack on a
slow hash) as well as MIN_LENGTH.
"""

from __future__ import annotations

from typing import Iterable

from zxcvbn import zxcvbn

from console import i18n

MIN_LENGTH = 10
MIN_SCORE = 3
# zxcvbn refuses longer input; the head of a long password is what gets guessed first.
_CHECKED = 72

# A weak match's zxcvbn pattern (and dictionary) → the catalog key naming it, most telling first.
_REASONS = ("pw_common", "pw_personal", "pw_repeat", "pw_sequence", "pw_keyboard", "pw_date",
            "pw_words")


def _reason(match: dict) -> str | None:  # type: ignore[type-arg]
    pattern = match.get("pattern")
    if pattern == "dictionary":
        name = match.get("dictionary_name")
        return {"passwords": "pw_common", "user_inputs": "pw_personal"}.get(name, "pw_words")
    return {"repeat": "pw_repeat", "sequence": "pw_sequence", "spatial": "pw_keyboard",
            "date": "pw_date", "regex": "pw_date"}.get(str(pattern))


def problems(password: str, user_inputs: Iterable[str] = ()) -> list[str]:
    """Catalog keys of what makes the password guessable; empty when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return ["pw_short"]
    result = zxcvbn(password[:_CHECKED], user_inputs=[u for u in user_inputs if u])
    if result["score"] >= MIN_SCORE:
        return []
    found = {r for r in (_reason(m) for m in result["sequence"]) if r}
    return [k for k in _REASONS if k in found] or ["pw_weak"]


def refusal(password: str, w: i18n.Words, user_inputs: Iterable[str] = ()) -> str | None:
    """The message to show when the password is refused (in w's language), else None."""
    found = problems(password, user_inputs)
    if not found:
        return None
    if found == ["pw_short"]:
        return w("pw_short")
    sep = "；" if w.lang == "zh-CN" else "; "
    return w("pw_refused").format(reasons=sep.join(w(k) for k in found))
