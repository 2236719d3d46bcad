"""The one catalog (anju/locale): complete in both languages, Chinese in zh-CN, and every key
the code asks for is there. Pure: no servers."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from alerts.lifecycle import OUTCOMES, AlertState
from alerts.policy import SEVERITIES
from anju import contract, i18n
from detectors.rules import RULES
from detectors.texts import render

ROOT = Path(__file__).resolve().parents[1]
CODE_DIRS = ("anju", "alerts", "console", "detectors", "ingest", "devtools", "simulators", "soak")
CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")
# Latin a zh-CN text may keep: units, formats, names of standards and of things typed as-is.
ZH_LATIN_OK = {"CSV", "URL", "URLs", "API", "IANA", "Asia", "Shanghai", "apprise", "mailto",
               "json", "wecombot", "e", "g", "SECONDS", "W", "L", "h", "min", "s", "ID",
               "English", "inactivity", "floor_min", "family", "community_worker", "property",
               "aaa", "abcd", "qwerty", "MQTT", "UTC", "YYYY", "MM", "DD", "HH", "mon", "fri",
               "anju", "JSON", "X", "CSRF", "Token", "tel", "PIN"}


def fields(s: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(s) if f}


def test_both_languages_hold_the_same_keys_all_translated() -> None:
    zh, en = i18n.catalog("zh-CN"), i18n.catalog("en")
    assert len(zh) > 300
    assert sorted(set(zh) - set(en)) == [], "keys missing from en"
    assert sorted(set(en) - set(zh)) == [], "keys missing from zh-CN"
    bad_fields = {k: (fields(zh[k]), fields(en[k])) for k in zh if fields(zh[k]) != fields(en[k])}
    assert bad_fields == {}, "the two languages fill in different {fields}"


def test_chinese_texts_are_chinese_and_english_ones_are_not() -> None:
    zh, en = i18n.catalog("zh-CN"), i18n.catalog("en")
    untranslated = []
    for key, text in zh.items():
        bare = re.sub(r"\{[^}]*\}", "", text)
        words = set(re.findall(r"[A-Za-z_]+", bare))
        if key == "language":      # the switch names the other language in that language
            continue
        if words - ZH_LATIN_OK or (words and not CJK.search(bare)):
            untranslated.append((key, text))
        elif not CJK.search(bare) and re.search(r"[A-Za-z]", bare):
            untranslated.append((key, text))
    assert untranslated == []
    chinese_in_en = [(k, t) for k, t in en.items() if CJK.search(t) and k != "language"]
    assert chinese_in_en == []
    same = [k for k in zh if zh[k] == en[k] and re.search(r"[A-Za-z\u4e00-\u9fff]", zh[k])]
    assert same == [], "zh-CN and en identical: one of them is not translated"


def test_a_missing_key_is_caught_not_hidden() -> None:
    """The lookup falls back for a reader, but `has` tells the truth (what the scan uses)."""
    assert not i18n.has("zh-CN", "no.such.key")
    assert i18n.text("zh-CN", "no.such.key") == "no.such.key"
    assert i18n.text("zh-CN", "board") == "告警看板"
    assert i18n.text("en", "board") == "Alert board"


def test_every_code_of_the_domain_has_words() -> None:
    groups = {
        "severity": SEVERITIES,
        "state": tuple(s.value for s in AlertState) if hasattr(AlertState, "__members__")
        else ("open", "acknowledged", "resolved"),
        "outcome": OUTCOMES,
        "room": contract.ROOMS,
        "device": tuple(contract.DEVICE_KINDS),
        "kind": tuple(k for r in RULES for k in r.kinds) + ("visit_concern",),
        "delivery": ("pending", "delivered", "undelivered", "cancelled"),
        "event": ("open", "acknowledge", "resolve", "escalate", "reached", "undelivered",
                  "unreached", "operators_told", "operators_untold"),
        "role": ("admin", "operator", "property", "family", "community_worker"),
    }
    missing = [f"{g}.{c}" for g, codes in groups.items() for c in codes
               for lang in i18n.LANGS if not i18n.has(lang, f"{g}.{c}")]
    assert missing == []


# -- keys named in the code --------------------------------------------------------
# A literal key handed to the catalog: i18n.text(lang, "k"), text(lang, "k"), w("k"),
# w.label("group", …) / label(lang, "group", …) (the group must exist), t("k") in
# modules whose t() prefixes a group.
_TEMPLATE_KEY = re.compile(r"""\bw\(\s*['"]([a-z0-9_.]+)['"]""")


def _literal_keys() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for d in CODE_DIRS:
        for path in (ROOT / d).rglob("*.py"):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                name = (node.func.attr if isinstance(node.func, ast.Attribute)
                        else getattr(node.func, "id", ""))
                args = node.args
                key = None
                if name in ("text", "has") and len(args) >= 2 and isinstance(args[1], ast.Constant):
                    key = args[1].value
                elif name == "w" and args and isinstance(args[0], ast.Constant):
                    key = args[0].value
                if isinstance(key, str):
                    found.setdefault(key, set()).add(str(path.relative_to(ROOT)))
        for path in (ROOT / d).rglob("*.html"):
            for key in _TEMPLATE_KEY.findall(path.read_text()):
                if key.endswith(("_", ".")):      # a prefix joined to a code: w('x_' ~ code)
                    continue
                found.setdefault(key, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_key_named_in_code_and_templates_is_in_both_languages() -> None:
    keys = _literal_keys()
    assert len(keys) > 50            # the scan sees the code
    missing = {k: sorted(v) for k, v in keys.items()
               for lang in i18n.LANGS if not i18n.has(lang, k)}
    assert missing == {}


SAMPLE = {"last_room": "bedroom", "last_activity": "07:10", "still_min": 130,
          "threshold_min": 90, "learned": True, "usual_up": "07:30", "usual_up_sd_min": 20,
          "last_water": "06:50", "minutes": 2, "left_at": "09:00", "away_min": 300,
          "usual_max_min": 120, "hours": 24, "litres": 3, "limit_l": 10, "since_time": "08:00",
          "running_min": 45, "watts": 1800, "last_switch": "07:00", "open_min": 30,
          "at_time": "02:10", "missed_heartbeats": 3, "last_seen": "08:00",
          "others_reporting": 4, "devices": 5, "battery_pct": 8, "limit_pct": 15, "days": 3,
          "last_trigger": "11-30", "days_with_life": 3, "mean_per_day": 40,
          "usual_per_day": 90, "room": "kitchen"}


@pytest.mark.parametrize("kind", sorted({k for r in RULES for k in r.kinds}))
def test_every_finding_reads_as_a_sentence_in_both_languages(kind: str) -> None:
    words = render(kind, "open", SAMPLE)
    assert set(words) == set(i18n.LANGS)
    for lang, s in words.items():
        assert "{" not in s and "finding." not in s and "None" not in s, (lang, s)
        assert s.endswith(("。", ".", "？", "?")), (lang, s)
    assert CJK.search(words["zh-CN"]) and not CJK.search(words["en"])
    cleared = render(kind, "cleared", {"reason": "moved", "room": "bathroom", "at_time": "09:10"})
    assert "卫生间" in cleared["zh-CN"] and "bathroom" in cleared["en"]
