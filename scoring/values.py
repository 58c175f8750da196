"""Reading exact values out of loosely typed input (JSON facts, YAML rules).

Every reader takes the field's path for its error message, so a bad value is reported as
`items.acd_availability.target: …` or `outages[3].end: …`, and collects errors instead of
raising at the first, so one run shows the whole list.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
US_PER_SECOND = 1_000_000

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)?\s*$")
_UNIT_US = {
    None: US_PER_SECOND,
    "s": US_PER_SECOND,
    "m": 60 * US_PER_SECOND,
    "min": 60 * US_PER_SECOND,
    "h": 3600 * US_PER_SECOND,
    "d": 86400 * US_PER_SECOND,
}


class InputError(ValueError):
    """Bad input; `errors` holds one `path: message` line per problem found."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


class Errors:
    """Collects `path: message` lines while a document is read."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.lines.append(f"{path}: {message}")

    def raise_if_any(self, error_type: type[InputError] = InputError) -> None:
        if self.lines:
            raise error_type(self.lines)


def instant_us(text: Any) -> int:
    """Microseconds since the epoch of an ISO 8601 instant that carries its offset.

    Raises ValueError (with the message used in reports) for anything else: a naive local
    time is ambiguous across the month boundary, so it is refused rather than guessed.
    """
    if not isinstance(text, str):
        raise ValueError("not an ISO instant with an offset")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("not an ISO instant with an offset") from None
    if moment.tzinfo is None:
        raise ValueError("not an ISO instant with an offset")
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * US_PER_SECOND + delta.microseconds


def exact_number(value: Any) -> Fraction:
    """A number as an exact fraction: 0.99, "0.99", "99%", 1, "1/3" are all read exactly."""
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        # repr gives the shortest decimal that reads back as this float: what the user wrote.
        return Fraction(repr(value))
    if isinstance(value, str):
        text = value.strip()
        try:
            if text.endswith("%"):
                return Fraction(text[:-1].strip()) / 100
            return Fraction(text)
        except (ValueError, ZeroDivisionError):
            raise ValueError("not a number") from None
    raise ValueError("not a number")


def duration_us(value: Any) -> int:
    """A duration as microseconds: seconds as a number, or text with a unit (15m, 2h, 1.5h, 1d)."""
    if isinstance(value, bool):
        raise ValueError("not a duration")
    if isinstance(value, int | float):
        amount, unit = exact_number(value), None
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        amount, unit = Fraction(match.group(1)), match.group(2)
    else:
        raise ValueError("not a duration (seconds, or a number with s, m, h or d)")
    us = amount * _UNIT_US[unit]
    if us.denominator != 1:
        raise ValueError("not a whole number of microseconds")
    return int(us)


def seconds(us: int) -> int | float:
    """Microseconds as seconds for output: an int when whole, else a float."""
    whole, rest = divmod(us, US_PER_SECOND)
    return whole if rest == 0 else us / US_PER_SECOND


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic structures.

    Facts with a million outages create millions of tuples and small objects; CPython's
    generational collector then rescans them over and over (measured: 40% of the scorer's time
    at 10^6 outages) although nothing here forms a cycle. Reference counting still frees
    everything; the collector resumes afterwards if it was running.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
