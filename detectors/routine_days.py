"""A home's kept routine days: each local midnight's feature vector and the score the day
had when it was judged, in three arrays sorted by day.

A detector process holds every watched home's last 35 days. Kept as dicts of vectors and
of scores (a numpy header and a float key per day), a home's routine memory took
19.7-21.2 KB; with these arrays 14.4-15.0 KB, 0.6 GB less at 100,000 homes. A row read
(`days[k]`) is a view into the store: counting its night again in place changes the kept
day.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from detectors.routine_features import IDX, NF

ACTIVE = IDX["active_slots"]
USABLE_SLOTS = 8    # a day with this many active slots says something of the routine


class Days:
    __slots__ = ("keys", "X", "score")

    def __init__(self) -> None:
        self.keys = np.empty(0)              # local midnights, ascending
        self.X = np.empty((0, NF))           # their features
        self.score = np.empty(0)             # the day's score when judged, NaN: not judged

    def _at(self, k: float) -> int:
        """The row of day k, or -1."""
        i = int(self.keys.searchsorted(k))
        return i if i < len(self.keys) and self.keys[i] == k else -1

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[float]:
        return iter(self.keys.tolist())

    def __contains__(self, k: float) -> bool:
        return self._at(k) >= 0

    def __getitem__(self, k: float) -> np.ndarray:
        i = self._at(k)
        if i < 0:
            raise KeyError(k)
        return self.X[i]

    def get(self, k: float) -> np.ndarray | None:
        i = self._at(k)
        return self.X[i] if i >= 0 else None

    def put(self, k: float, x: np.ndarray) -> None:
        """Keep day k's features (a day kept again keeps its score)."""
        i = self._at(k)
        if i >= 0:
            self.X[i] = x
            return
        i = int(np.searchsorted(self.keys, k))
        self.keys = np.insert(self.keys, i, k)
        self.X = np.insert(self.X, i, x, axis=0)
        self.score = np.insert(self.score, i, np.nan)

    def drop_oldest(self, n: int) -> None:
        """Forget the n oldest days."""
        # copied: a slice would keep the old arrays alive
        self.keys, self.X, self.score = self.keys[n:].copy(), self.X[n:].copy(), \
            self.score[n:].copy()

    def rows(self, ks: Iterable[float]) -> np.ndarray:
        """The features of days ks (each kept), one row each, as a new matrix."""
        return self.X[self.keys.searchsorted(np.fromiter(ks, float))]

    def column(self, i: int) -> dict[float, float]:
        """Feature i of every kept day, by day."""
        return dict(zip(self.keys.tolist(), self.X[:, i].tolist()))

    def usable(self, after: float, upto: float) -> list[float]:
        """The days after `after` up to `upto` (included) with the resident at home and up
        (routine.usable), ascending."""
        k = self.keys
        return k[(k > after) & (k <= upto) & (self.X[:, ACTIVE] >= USABLE_SLOTS)].tolist()

    def score_of(self, k: float, default: float | None = None) -> float | None:
        """The score day k had when judged (`default` if it was not)."""
        i = self._at(k)
        if i < 0 or np.isnan(self.score[i]):
            return default
        return float(self.score[i])

    def scores(self, ks: list[float]) -> np.ndarray:
        """The scores of days ks (each kept), NaN for a day not judged."""
        return self.score[self.keys.searchsorted(np.array(ks, dtype=float))]

    def set_score(self, k: float, v: float) -> None:
        i = self._at(k)
        if i < 0:
            raise KeyError(k)     # (-1 would be the newest day's row)
        self.score[i] = v

    def judged(self) -> list[float]:
        """The days that were judged (have a score), ascending."""
        return self.keys[~np.isnan(self.score)].tolist()
