"""What the agent knows about its own health, reported in every heartbeat (no I/O here)."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Health:
    """Counters since the agent started; the heartbeat sends them, the collector diffs them."""

    runs: int = 0
    late_runs: int = 0  # started more than `late_after` seconds after their scheduled time
    skipped_runs: int = 0  # missed entirely: later than the misfire grace, or still running
    rejected: int = 0  # results the collector refused one by one in a 202 (dropped, logged)
    lags: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))  # seconds
    # A corrupt spool was moved aside at start: when, why, where to, what was salvaged.
    spool_replaced: dict[str, Any] | None = None

    def record_start(self, lag: float, late_after: float) -> None:
        self.runs += 1
        self.lags.append(lag)
        if lag > late_after:
            self.late_runs += 1

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "late_runs": self.late_runs,
            "skipped_runs": self.skipped_runs,
            "rejected": self.rejected,
        }
        if self.spool_replaced is not None:
            out["spool_replaced"] = self.spool_replaced
        return out


def backoff_delay(attempt: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Seconds to wait after `attempt` consecutive failures (0-based): exponential, capped,
    with jitter in [50%, 100%] of the step so many agents do not retry in lock-step."""
    step = min(maximum, initial * (2 ** min(attempt, 30)))
    return step * (0.5 + rng.random() / 2)


def clock_step(wall_minus_monotonic: float, baseline: float, tolerance: float) -> float | None:
    """The wall clock's jump (seconds, negative when it went back) since `baseline` was taken,
    or None while it stays within `tolerance` (NTP slewing moves it by milliseconds)."""
    step = wall_minus_monotonic - baseline
    return step if abs(step) > tolerance else None
