"""Names for simulated residents: common Chinese names, stable per home code.

A demo or a soak shows these on the console and in notifications, so they should
read like the people a community centre looks after, not like test fixtures.
"""

from __future__ import annotations

import hashlib

SURNAMES = "王李张刘陈杨黄赵周吴徐孙马胡朱郭何罗高林"
GIVEN = ("秀英", "桂兰", "玉兰", "淑珍", "凤英", "国华", "建国", "德明", "志强", "素芳",
         "文华", "永福", "兰英", "春华", "长林", "明珍", "学文", "翠花", "正清", "家树")


def resident_name(code: str) -> str:
    """The same home code always gives the same name (hash, not the process's random)."""
    h = int.from_bytes(hashlib.blake2s(code.encode(), digest_size=4).digest(), "big")
    return SURNAMES[h % len(SURNAMES)] + GIVEN[(h // len(SURNAMES)) % len(GIVEN)]


def building(code: str) -> str:
    """A building number for the address line: 1栋 … 24栋."""
    h = int.from_bytes(hashlib.blake2s(code.encode(), digest_size=2).digest(), "big")
    return f"{h % 24 + 1}栋"
