"""A progress bar on stderr with rate and ETA (only when stderr is a terminal, or forced)."""

from __future__ import annotations

import os
import sys
import time


class Progress:
    def __init__(self, total: float, unit: str = "items", enabled: bool = True,
                 stream=None, min_interval: float = 0.5) -> None:
        self.total, self.unit = total, unit
        self.stream = stream or sys.stderr
        force = os.environ.get("ANJU_PROGRESS") == "1"
        self.enabled = enabled and (force or getattr(self.stream, "isatty", lambda: False)())
        self.done = 0.0
        self.t0 = self.last = time.monotonic()
        self.min_interval = min_interval

    def advance(self, n: float = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self.last >= self.min_interval or self.done >= self.total):
            self.last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self.t0, 1e-9)
        rate = self.done / elapsed
        frac = min(1.0, self.done / self.total) if self.total else 1.0
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        width = 28
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        eta_s = "--:--" if eta == float("inf") else f"{int(eta) // 60:02d}:{int(eta) % 60:02d}"
        self.stream.write(f"\r[{bar}] {frac * 100:5.1f}%  {self.done:,.0f}/{self.total:,.0f} "
                          f"{self.unit}  {rate:,.1f}/s  ETA {eta_s} ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
