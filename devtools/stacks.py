"""What every `anju bench …` command shares: a throw-away stack, percentiles, the report."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from anju import db
from anju.embedded import Stack


@contextlib.contextmanager
def temporary_stack(name: str) -> Iterator[Stack]:
    """A fresh, migrated embedded stack in a temporary directory, removed afterwards,
    so a benchmark measures nothing but itself."""
    base = Path(tempfile.mkdtemp(prefix=f"anju-bench-{name}-"))
    os.chmod(base, 0o711)  # the servers' own user must reach their directories
    stack = Stack(base / "state")
    try:
        stack.up()
        db.migrate(stack.database_url())
        yield stack
    finally:
        stack.down()
        shutil.rmtree(base, ignore_errors=True)


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def report(result: dict[str, object], as_json: bool) -> None:
    """One JSON object (--json), or a readable table."""
    if as_json:
        print(json.dumps(result))
        return
    width = max(len(k) for k in result) + 2
    for key, value in result.items():
        print(f"{key:{width}} {value}")
