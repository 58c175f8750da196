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

from scoring.documents import describe

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
US_PER_SECOND = 1_000_000

_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(s|m|min|h|d)?\s*\Z")
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


# The instants the scorer accepts: from the Unix epoch (nothing it measures is older; the stores
# count from it) to 2200-01-01T00:00:00Z, well inside InfluxDB's nanosecond range (to 2262) and
# far from Python's year 9999, so offsets, time zones and report deadlines computed from any
# accepted instant stay representable. Months: 1970-01 to 2199-12 (`MIN_YEAR`, `MAX_YEAR`).
MIN_YEAR, MAX_YEAR = 1970, 2199
MIN_US = 0
MAX_US = (datetime(MAX_YEAR + 1, 1, 1, tzinfo=UTC) - EPOCH) // US
RANGE_TEXT = f"{MIN_YEAR}-01-01T00:00:00Z to {MAX_YEAR + 1}-01-01T00:00:00Z"


def instant_us(text: Any) -> int:
    """Microseconds since the epoch of an ISO 8601 instant that carries its offset.

    Raises ValueError (with the message used in reports) for anything else: a naive local
    time is ambiguous across the month boundary, so it is refused rather than guessed; an
    instant outside the accepted range (above) is refused too.
    """
    if not isinstance(text, str):
        raise ValueError(f"not an ISO instant with an offset ({describe(text)})")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("not an ISO instant with an offset") from None
    if moment.tzinfo is None:
        raise ValueError("not an ISO instant with an offset")
    # The year check comes first: converting year 9999 at -12:00 to UTC would overflow.
    if not MIN_YEAR - 1 <= moment.year <= MAX_YEAR + 1:
        raise ValueError(f"outside the accepted range {RANGE_TEXT}")
    delta = moment - EPOCH
    us = (delta.days * 86_400 + delta.seconds) * US_PER_SECOND + delta.microseconds
    if not MIN_US <= us < MAX_US:
        raise ValueError(f"outside the accepted range {RANGE_TEXT}")
    return us


# Numbers in rules: at most 64 characters, a decimal exponent of at most two digits, and a
# magnitude of at most 10^12. Fraction("1e999999999") would build a billion-digit integer, and a
# target or step far from 1 would overflow the report's floats.
_NUMBER_TEXT = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,2})?(/[0-9]+)?\Z")
MAX_NUMBER = 10**12
# Durations in rules (response and restoration limits): at most a year.
MAX_DURATION_US = 366 * 86_400 * US_PER_SECOND


def exact_number(value: Any) -> Fraction:
    """A number as an exact fraction: 0.99, "0.99", "99%", 1, "1/3" are all read exactly."""
    if isinstance(value, bool):
        raise ValueError(f"not a number ({describe(value)})")
    if isinstance(value, int):
        number = Fraction(value)
    elif isinstance(value, float | str):
        # repr gives the shortest decimal that reads back as this float: what the user wrote.
        text = repr(value) if isinstance(value, float) else value.strip()
        percent = text.endswith("%")
        if percent:
            text = text[:-1].strip()
        if len(text) > 64 or not _NUMBER_TEXT.match(text):
            raise ValueError(f"not a number ({describe(value)})")
        try:
            number = Fraction(text) / (100 if percent else 1)
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"not a number ({describe(value)})") from None
    else:
        raise ValueError(f"not a number ({describe(value)})")
    if abs(number) > MAX_NUMBER:
        raise ValueError(f"too large (more than {MAX_NUMBER:.0e})")
    return number


def duration_us(value: Any) -> int:
    """A duration as microseconds: seconds as a number, or text with a unit (15m, 2h, 1.5h, 1d)."""
    if isinstance(value, bool):
        raise ValueError("not a duration (seconds, or a number with s, m, h or d)")
    if isinstance(value, int | float):
        amount, unit = exact_number(value), None
    elif isinstance(value, str) and len(value) <= 64 and (match := _DURATION.match(value)):
        amount, unit = Fraction(match.group(1)), match.group(2)
    else:
        raise ValueError("not a duration (seconds, or a number with s, m, h or d)")
    us = amount * _UNIT_US[unit]
    if us.denominator != 1:
        raise ValueError("not a whole number of microseconds")
    if not 0 <= us <= MAX_DURATION_US:
        raise ValueError("must be between 0 and 366 days")
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
