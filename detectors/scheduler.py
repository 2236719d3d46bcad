"""Deadlines: which home's detectors must run next, without polling every home.

A heap of (deadline, home) with lazy invalidation: a home's current deadline
is kept in a dict, and heap entries that no longer match it are skipped when
they surface. Pushing and popping are O(log n); 100,000 homes cost a few MB.
"""

from __future__ import annotations

import heapq
from typing import Hashable


class Deadlines:
    def __init__(self) -> None:
        self._heap: list[tuple[float, Hashable]] = []
        self._current: dict[Hashable, float] = {}

    def __len__(self) -> int:
        return len(self._current)

    def set(self, key: Hashable, deadline: float | None) -> None:
        """Make `deadline` the key's only deadline (None: it has none)."""
        if deadline is None:
            self._current.pop(key, None)
            return
        if self._current.get(key) == deadline:
            return
        self._current[key] = deadline
        heapq.heappush(self._heap, (deadline, key))
        if len(self._heap) > 4 * len(self._current) + 1024:
            self._compact()

    def next(self) -> float | None:
        """The earliest deadline, or None."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[tuple[float, Hashable]]:
        """Every (deadline, key) due at `now`, earliest first; they are removed."""
        due = []
        while True:
            self._drop_stale()
            if not self._heap or self._heap[0][0] > now:
                return due
            deadline, key = heapq.heappop(self._heap)
            del self._current[key]
            due.append((deadline, key))

    def _drop_stale(self) -> None:
        heap, current = self._heap, self._current
        while heap and current.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)

    def _compact(self) -> None:
        self._heap = [(d, k) for k, d in self._current.items()]
        heapq.heapify(self._heap)
