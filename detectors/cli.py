"""`anju detect` and `anju bench detect`."""

from __future__ import annotations


def register(cli) -> None:  # type: ignore[no-untyped-def]
    pass
