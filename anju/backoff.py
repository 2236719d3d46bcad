"""Retrying after a failure without every worker retrying at the same instant."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class Backoff:
    """Exponential backoff with full jitter, capped."""

    base: float = 0.2
    cap: float = 10.0
    attempt: int = 0

    def next(self) -> float:
        self.attempt += 1
        return random.uniform(0, min(self.cap, self.base * 2 ** self.attempt))

    def reset(self) -> None:
        self.attempt = 0
