"""Maintenance windows as time: expanding recurrences and classifying outage time. Pure.

Recurrence rules are RFC 5545 RRULEs evaluated by python-dateutil in the window's zone, so
"every Sunday 02:00-04:00" stays at 02:00 local time. Outage time inside a window that covers
the component is maintenance, the rest (an overrun included) is fault — with
`scoring.intervals`, the same algebra the scorer uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from collector.domain.model import MaintenanceWindow, Millis, Outage
from collector.domain.timefmt import from_datetime, to_datetime
from scoring import intervals

ALL = "*"
_MAX_OCCURRENCES = 10_000


@dataclass(frozen=True, slots=True)
class Occurrence:
    window: MaintenanceWindow
    start: Millis
    end: Millis

    @property
    def id(self) -> str:
        """The window's id, or for a recurring one `ID@START` (epoch ms), stable across reads."""
        return self.window.id if self.window.rrule is None else f"{self.window.id}@{self.start}"


def check_rrule(rule: str) -> None:
    """ValueError with dateutil's message when the rule does not parse."""
    try:
        rrulestr(rule, dtstart=to_datetime(0))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an RFC 5545 RRULE: {exc}") from None


def occurrences(windows: Iterable[MaintenanceWindow], lo: Millis, hi: Millis) -> list[Occurrence]:
    """Every occurrence overlapping [lo, hi), ordered by (start, window id)."""
    out: list[Occurrence] = []
    for w in windows:
        length = w.end - w.start
        if w.rrule is None:
            if w.start < hi and w.end > lo:
                out.append(Occurrence(w, w.start, w.end))
            continue
        tz = ZoneInfo(w.tz)
        rule = rrulestr(w.rrule, dtstart=to_datetime(w.start, tz))
        after = to_datetime(lo - length, tz)
        for n, moment in enumerate(rule.xafter(after, inc=True)):
            start = from_datetime(moment)
            if start >= hi or n >= _MAX_OCCURRENCES:
                break
            if start + length > lo:
                out.append(Occurrence(w, start, start + length))
    out.sort(key=lambda o: (o.start, o.window.id))
    return out


def covers(window: MaintenanceWindow, component: str) -> bool:
    return ALL in window.components or component in window.components


def covered(
    windows: Iterable[MaintenanceWindow], component: str, lo: Millis, hi: Millis
) -> intervals.IntervalSet:
    """The time in [lo, hi) when a window covers the component."""
    spans = [
        (o.start, o.end) for o in occurrences((w for w in windows if covers(w, component)), lo, hi)
    ]
    return intervals.clip(intervals.merge(spans), lo, hi)


def in_window(windows: Sequence[MaintenanceWindow], component: str, at: Millis) -> bool:
    return bool(covered(windows, component, at, at + 1))


def classify(
    outage: Outage, windows: Sequence[MaintenanceWindow], now: Millis
) -> list[tuple[Millis, Millis | None, str]]:
    """The outage cut into `maintenance` and `fault` pieces, in time order. An open outage
    runs to `now`; its last piece stays open (end None)."""
    end = outage.end if outage.end is not None else max(now, outage.start + 1)
    whole = [(outage.start, end)]
    maint = covered(windows, outage.component, outage.start, end)
    pieces = [(s, e, "maintenance") for s, e in intervals.intersect(whole, maint)]
    pieces += [(s, e, "fault") for s, e in intervals.subtract(whole, maint)]
    pieces.sort()
    out: list[tuple[Millis, Millis | None, str]] = list(pieces)
    if outage.end is None and out:
        s, _, kind = out[-1]
        out[-1] = (s, None, kind)
    return out
